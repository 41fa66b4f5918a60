// Calls to Fulcrum's public API. The token (--auth-token-file) lives in sessionStorage, so
// it is gone when the tab closes, and travels only in the Authorization header, never in
// a URL (URLs end up in logs and history).

const tokenKey = 'fulcrum.token';

export function token() { return sessionStorage.getItem(tokenKey) || ''; }

export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// ApiError carries the HTTP status and the message of Fulcrum's error bodies:
// {"error": CODE, "message"} (broker) or {"code": status, "message"} (balancer).
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api sends one request and returns the decoded JSON body (or the text, for the few
// text/plain answers). Every call is bounded by timeoutMs.
export async function api(path, { method = 'GET', body, timeoutMs = 15000 } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, signal: ctl.signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, e.name === 'AbortError'
      ? `${method} ${path}: no answer in ${timeoutMs / 1000} s`
      : `${method} ${path}: Fulcrum cannot be reached (${e.message})`);
  } finally {
    clearTimeout(timer);
  }
  const text = await resp.text();
  let data = text;
  if ((resp.headers.get('Content-Type') || '').includes('json') && text !== '') {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const msg = (data && data.message) || `${resp.status} ${resp.statusText}`;
    const code = data && (data.error || data.code);
    const hint = resp.status === 401 ? ' — enter a token above' : '';
    throw new ApiError(resp.status, `${method} ${path}: ${msg}${hint}`, code);
  }
  return data;
}

// pool runs fn over items with at most n calls in flight.
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
