// The one way the dashboard talks to the daemon: relative URLs (so it works behind a
// reverse proxy under a sub-path), a bearer token from localStorage, one token prompt
// however many requests get a 401 at once, and a clear difference between "the daemon
// did not answer" (Unreachable) and "it answered with an error" (ApiError).

const TOKEN_KEY = 'sysmond.token';
const TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.error || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export class Unreachable extends Error {}

let tokenPrompt = null; // the pending prompt, shared by every request that got a 401

function askToken(reason) {
  if (tokenPrompt) return tokenPrompt;
  const dialog = document.getElementById('auth');
  const input = dialog.querySelector('input');
  dialog.querySelector('.why').textContent = reason || '';
  input.value = '';
  tokenPrompt = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      tokenPrompt = null;
      const token = dialog.returnValue === 'ok' ? input.value.trim() : '';
      if (token) localStorage.setItem(TOKEN_KEY, token);
      resolve(Boolean(token));
    }, { once: true });
  });
  dialog.showModal();
  return tokenPrompt;
}

/** GET `path` (relative to the dashboard, e.g. `api/v1/health`) and return its JSON.
 *  `ok` lists HTTP statuses whose JSON body is an answer, not an error (health's 503). */
export async function getJSON(path, params = {}, { ok = [], timeout = TIMEOUT_MS } = {}) {
  const url = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  for (;;) {
    const headers = { Accept: 'application/json' };
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    let resp;
    // A daemon that accepts connections but does not answer (stopped, wedged) must
    // not pile up a request a second forever: give up after a while, as unreachable.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeout);
    try {
      resp = await fetch(url, { headers, signal: abort.signal, cache: 'no-store' });
    } catch (e) {
      throw new Unreachable(e.name === 'AbortError' ? `no answer in ${timeout / 1000} s`
        : `daemon unreachable: ${e.message}`);
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try { body = await resp.json(); } catch { body = null; }
    if (resp.status === 401) {
      if (token) localStorage.removeItem(TOKEN_KEY);
      const why = token ? 'The saved token was refused.' : 'This daemon needs an API token.';
      if (await askToken(why)) continue;
      throw new ApiError(401, body);
    }
    if (resp.status === 502 || resp.status === 504) throw new Unreachable(`HTTP ${resp.status}`);
    if (!resp.ok) {
      if (!ok.includes(resp.status)) throw new ApiError(resp.status, body);
      return { ...body, httpStatus: resp.status };
    }
    return body;
  }
}
