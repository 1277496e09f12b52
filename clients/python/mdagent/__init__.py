"""Python client of the mdagent market data agent (see README.md)."""
from .client import Client
from .errors import (AuthError, BadRequestError, InvalidIntervalError, InvalidParameterError,
                     InvalidSymbolError, InvalidTimeRangeError, MdagentError, NotFoundError,
                     RateLimitedError, StreamError, UnavailableError)

__all__ = ["Client", "MdagentError", "BadRequestError", "InvalidSymbolError", "InvalidIntervalError",
           "InvalidTimeRangeError", "InvalidParameterError", "AuthError", "NotFoundError",
           "RateLimitedError", "UnavailableError", "StreamError"]
__version__ = "0.1.0"
