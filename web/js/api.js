// api.js: the dashboard's only door to the REST API.
//
// Every GET goes through apiGet(), which keeps the last ETag and body per URL
// and sends If-None-Match, so an unchanged resource costs a 304 and the
// caller learns "changed: false".  apiSend() is the one writer (POST,
// DELETE).  The bearer token lives in sessionStorage and is only ever sent
// in the Authorization header.  Non-2xx answers become ApiProblem
// (title/detail/status/field from application/problem+json).

const TOKEN_KEY = 'skyvisor.token';
const TENANT_KEY = 'skyvisor.tenant';
const cache = new Map(); // url -> { etag, body }

export class ApiProblem extends Error {
  constructor(status, title, detail, field) {
    super(title);
    this.status = status;
    this.title = title;
    this.detail = detail || '';
    this.field = field || '';
  }
}

export function session() {
  return {
    token: sessionStorage.getItem(TOKEN_KEY),
    tenant: sessionStorage.getItem(TENANT_KEY) || '',
  };
}

export function saveSession(token, tenant) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(TENANT_KEY, tenant || '');
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(TENANT_KEY);
  cache.clear();
}

async function problemOf(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  if (body && typeof body === 'object' && body.title) {
    return new ApiProblem(resp.status, body.title, body.detail, body.field);
  }
  return new ApiProblem(resp.status, `HTTP ${resp.status} ${resp.statusText}`, '');
}

// GET url (relative to the origin).  Returns { body, changed }; body is the
// cached parsed JSON (shared: callers must not mutate it).  Throws ApiProblem.
export async function apiGet(url) {
  const { token } = session();
  const hit = cache.get(url);
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (hit) headers['If-None-Match'] = hit.etag;
  const resp = await fetch(url, { headers, cache: 'no-store' });
  if (resp.status === 304 && hit) return { body: hit.body, changed: false };
  if (!resp.ok) throw await problemOf(resp);
  const body = await resp.json();
  const etag = resp.headers.get('ETag');
  if (etag) cache.set(url, { etag, body });
  else cache.delete(url);
  return { body, changed: true };
}

// method (POST, DELETE) url with an optional JSON body.  Returns
// { status, body, location } (body null when the answer has none).
// Throws ApiProblem.
export async function apiSend(method, url, body) {
  const { token } = session();
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(url, { method, headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (!resp.ok) throw await problemOf(resp);
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null,
    location: resp.headers.get('Location') };
}

// GET a whole list (follows next_cursor).  Returns { items, changed }.
export async function apiList(url) {
  let items = [];
  let changed = false;
  let cursor = null;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const page = `${url}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await apiGet(page);
    changed = changed || r.changed;
    items = items.concat(r.body.items || []);
    cursor = r.body.next_cursor;
  } while (cursor);
  return { items, changed };
}

export const seg = encodeURIComponent;
