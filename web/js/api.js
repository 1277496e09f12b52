// api.js - talking to the agent. The page first reads /dashboard/routes.json (the routes this
// agent serves and which chart libraries are installed) and then only asks for endpoints
// that exist, so a panel whose endpoint has not landed says "not available" without a
// failed request. Requests never throw: they resolve to {ok, status, data, error}.

export class Api {
  constructor(base = '') {
    this.base = base;
    this.routes = new Set();
    this.libs = {};
    this.version = null;
  }

  async init() {
    const r = await this.get('/dashboard/routes.json');
    if (r.ok && r.data && Array.isArray(r.data.routes)) {
      for (const rt of r.data.routes) {
        if (rt && typeof rt.path === 'string') this.routes.add(rt.path);
      }
      this.libs = r.data.libs || {};
      this.version = r.data.version || null;
    }
    return r.ok;
  }

  /** Whether the agent has a route with this pattern ("/sources", "/quality/{symbol}"). */
  has(pattern) {
    return this.routes.has(pattern);
  }

  /** GET path; JSON unless text is set. Resolves to {ok, status, data, error}. */
  async get(path, { text = false, timeoutMs = 15000 } = {}) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      const res = await fetch(this.base + path, { signal: ctl.signal, headers: { Accept: text ? 'text/plain' : 'application/json' } });
      const body = await res.text();
      if (text) return res.ok ? { ok: true, status: res.status, data: body } : { ok: false, status: res.status, error: errorText(body, res) };
      let data = null;
      try {
        data = body ? JSON.parse(body) : null;
      } catch {
        return { ok: false, status: res.status, error: `not JSON from ${path}` };
      }
      if (!res.ok) return { ok: false, status: res.status, data, error: errorText(body, res) };
      return { ok: true, status: res.status, data };
    } catch (e) {
      return { ok: false, status: 0, error: e.name === 'AbortError' ? `timed out: ${path}` : `cannot reach the agent (${e.message})` };
    } finally {
      clearTimeout(timer);
    }
  }
}

function errorText(body, res) {
  try {
    const j = JSON.parse(body);
    if (j && j.error) return `${j.error.message || j.error.code} (${res.status})`;
  } catch { /* not JSON */ }
  return `${res.status} ${res.statusText}`.trim();
}

/** The WebSocket URL of /stream for this page. */
export function streamUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/stream`;
}
