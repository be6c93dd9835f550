// dom.js — building DOM without innerHTML (every value from the server is text, never markup),
// and formatting helpers shared by the pages.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) { el.replaceChildren(); return el; }

export function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return Number(v).toFixed(digits);
}

export function fmtInt(v) {
  if (v === null || v === undefined) return '—';
  return Number(v).toLocaleString('en-US');
}

export function fmtBytes(v) {
  if (v === null || v === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + ' ' + units[i];
}

// "12 s ago" from an RFC 3339 time.
export function ago(iso, now = Date.now()) {
  if (!iso) return '—';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 90) return Math.round(s) + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  if (s < 172800) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}

export function fmtTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function badge(text, cls) { return h('span', { class: 'badge s-' + (cls || text) }, text); }

export function errorBox(e) {
  return h('p', { class: 'error' }, e && e.code ? `${e.code}: ${e.message}` : String(e && e.message || e));
}

// A floating tooltip shared by the canvases.
let tipEl = null;
export function tip(text, x, y) {
  if (!tipEl) { tipEl = h('div', { class: 'tip' }); document.body.append(tipEl); }
  if (!text) { tipEl.style.display = 'none'; return; }
  tipEl.textContent = text;
  tipEl.style.left = (x + 12) + 'px';
  tipEl.style.top = (y + 12) + 'px';
  tipEl.style.display = 'block';
}

// SQL string literal.
export function sqlStr(s) { return "'" + String(s).replace(/'/g, "''") + "'"; }
