"""Typed exceptions carrying the agent's error code.

Every error the agent sends is `{"error": {"code", "message"}}` with the HTTP status of its
code (docs/API.md's error table). `raise_for(status, body)` turns one into the most specific
class below: a class per code the caller may want to catch on its own, else one per status
family, always a subclass of `MdagentError` with `.code`, `.status` and `.message`."""


class MdagentError(Exception):
    """An error answer of the agent (or of the stream)."""

    def __init__(self, code, message, status=None):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status


class BadRequestError(MdagentError):
    """400: the request is wrong (a parameter, a symbol, an interval, a time range)."""


class InvalidSymbolError(BadRequestError):
    pass


class InvalidIntervalError(BadRequestError):
    pass


class InvalidTimeRangeError(BadRequestError):
    pass


class InvalidParameterError(BadRequestError):
    pass


class AuthError(MdagentError):
    """401/403: no API key, a wrong one, or none configured on the agent."""


class NotFoundError(MdagentError):
    """404: unknown symbol (not_found) or nothing stored for the request (no_data)."""


class RateLimitedError(MdagentError):
    """429: every source is out of budget."""


class UnavailableError(MdagentError):
    """502/503/504: the store or the sources cannot answer now; worth a retry later."""


class StreamError(MdagentError):
    """An error message on the WebSocket stream, or a stream that cannot be (re)opened."""


_BY_CODE = {
    "invalid_symbol": InvalidSymbolError,
    "invalid_interval": InvalidIntervalError,
    "invalid_time_range": InvalidTimeRangeError,
    "invalid_parameter": InvalidParameterError,
    "unauthorized": AuthError,
    "forbidden": AuthError,
    "auth_not_configured": AuthError,
    "not_found": NotFoundError,
    "no_data": NotFoundError,
    "rate_limited": RateLimitedError,
}


def error_class(code, status=None):
    cls = _BY_CODE.get(code)
    if cls:
        return cls
    if status is not None:
        if status in (401, 403):
            return AuthError
        if status == 404:
            return NotFoundError
        if status == 429:
            return RateLimitedError
        if 400 <= status < 500:
            return BadRequestError
        if status in (502, 503, 504):
            return UnavailableError
    return MdagentError


def raise_for(status, body):
    """Raises the exception for an error answer (body: bytes or str)."""
    import json

    code, message = None, None
    try:
        err = json.loads(body)["error"]
        code, message = err.get("code"), err.get("message")
    except Exception:  # not the agent's error JSON (a proxy's page...)
        message = (body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))[:500]
    code = code or f"http_{status}"
    raise error_class(code, status)(code, message or "", status)
