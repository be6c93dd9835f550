// api.js — talking to the fleetlake server: the API key (kept in sessionStorage, sent as
// "Authorization: Bearer" with every data call), JSON errors, SQL, the /v1/events stream and
// what the key may call (GET /v1/whoami's route list).

const KEY_NAME = 'fleetlake.api_key';

export function apiKey() { return sessionStorage.getItem(KEY_NAME) || ''; }
export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_NAME, key); else sessionStorage.removeItem(KEY_NAME);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(json) {
  const h = {};
  const key = apiKey();
  if (key) h.Authorization = 'Bearer ' + key;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

async function failure(r) {
  let code = 'http_' + r.status, message = r.statusText || 'request failed';
  try {
    const body = await r.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(r.status, code, message);
}

// GET or POST path; JSON answers are parsed, others returned as text.
export async function api(path, { method = 'GET', body, signal } = {}) {
  const r = await fetch(path, {
    method, signal, headers: headers(body !== undefined),
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (!r.ok) throw await failure(r);
  const type = r.headers.get('Content-Type') || '';
  return type.startsWith('application/json') ? r.json() : r.text();
}

// POST /v1/query with format json: {columns, rows, stats}. An error after streaming began
// comes as an "error" member of a 200 body.
export async function query(sql, signal) {
  const res = await api('/v1/query', { method: 'POST', body: { sql, format: 'json' }, signal });
  if (res.error) throw new ApiError(200, res.error.code, res.error.message);
  return res;
}

// The same query as CSV text (the SQL console's download).
export async function queryCsv(sql) {
  return api('/v1/query', { method: 'POST', body: { sql, format: 'csv' } });
}

// Rows of a query result as objects keyed by column name.
export function objects(res) {
  return res.rows.map(r => Object.fromEntries(res.columns.map((c, i) => [c, r[i]])));
}

// What the key may call, from GET /v1/whoami.
export class Access {
  constructor(who) {
    this.who = who;
    this.routes = new Set(who.routes.map(r => r.method + ' ' + r.route));
  }
  can(method, route) { return this.routes.has(method + ' ' + route); }
  canAll(needs) { return needs.every(([m, r]) => this.can(m, r)); }
}

// At most one server-sent event stream per tab (GET /v1/events; server.max_event_streams
// bounds them), read with fetch because EventSource cannot send the Authorization header.
// Listeners get (event type, parsed data). The stream is open only while a page listens (the
// Alerts page): the server holds one of its worker threads on each open stream for up to 5 s
// at a time, which delays other requests served by that thread. Reconnects with Last-Event-ID
// after a drop.
export class EventStream {
  constructor() {
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.connected = false;
    this.lastId = null;
    this.abort = null;
    this.stopped = false;
  }
  on(fn) {
    this.listeners.add(fn);
    if (this.listeners.size === 1) { this.stopped = false; this.start(); }
    return () => {
      this.listeners.delete(fn);
      if (!this.listeners.size) this.stop();
    };
  }
  onStatus(fn) { this.statusListeners.add(fn); fn(this.connected); return () => this.statusListeners.delete(fn); }
  setConnected(v) { this.connected = v; for (const fn of this.statusListeners) fn(v); }
  stop() { this.stopped = true; if (this.abort) this.abort.abort(); }

  async start() {
    if (this.running) return;
    this.running = true;
    try { await this.loop(); } finally { this.running = false; this.setConnected(false); }
  }

  async loop() {
    let delay = 1000;
    while (!this.stopped) {
      this.abort = new AbortController();
      try {
        const h = headers(false);
        if (this.lastId) h['Last-Event-ID'] = this.lastId;
        const r = await fetch('/v1/events', { headers: h, signal: this.abort.signal });
        if (!r.ok) throw await failure(r);
        this.setConnected(true);
        delay = 1000;
        await this.read(r.body.getReader());
      } catch (e) {
        if (this.stopped) return;
      }
      this.setConnected(false);
      await new Promise(res => setTimeout(res, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        this.frame(buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
  }

  frame(text) {
    let type = 'message', data = '', id = null;
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
      else if (field === 'id') id = value;
    }
    if (id) this.lastId = id;
    if (!data) return;
    let parsed;
    try { parsed = JSON.parse(data); } catch { return; }
    for (const fn of this.listeners) fn(type, parsed);
  }
}
