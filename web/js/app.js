// app.js — the dashboard shell: sign-in with an API key (sessionStorage), the key's access
// (GET /v1/whoami), navigation that shows only the pages the key's role may use, a hash
// router (#/fleet, #/device/<id>, #/alerts, #/rules, #/quality, #/pipeline, #/sql) and the tab's one
// /v1/events stream.
import { api, apiKey, setApiKey, Access, EventStream, ApiError } from './api.js';
import { h, clear, errorBox } from './dom.js';
import fleet from './pages/fleet.js';
import device from './pages/device.js';
import alerts from './pages/alerts.js';
import rules from './pages/rules.js';
import quality from './pages/quality.js';
import pipeline from './pages/pipeline.js';
import sql from './pages/sql.js';

// name -> page; a page is {title, nav, needs: [[method, route]...], render(root, ctx, arg)}
// and render returns a cleanup function (stop timers, abort requests).
const PAGES = { fleet, device, alerts, rules, quality, pipeline, sql };
const ORDER = ['fleet', 'alerts', 'rules', 'quality', 'pipeline', 'sql'];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signout = document.getElementById('signout');
let ctx = null;       // {access, events}
let cleanup = null;

// A key handed over in the address (#key=flk_...: `make run` prints one) is moved to session
// storage and removed from the address bar and history.
function takeKeyFromHash() {
  const m = location.hash.match(/^#key=([A-Za-z0-9_\-]+)$/);
  if (!m) return;
  setApiKey(m[1]);
  history.replaceState(null, '', location.pathname + '#/');
}

function signInPage(message) {
  clear(nav); who.textContent = ''; signout.hidden = true;
  const input = h('input', { type: 'password', id: 'api-key', placeholder: 'flk_…', autocomplete: 'off' });
  const form = h('form', { class: 'card signin', onsubmit: e => { e.preventDefault(); signIn(input.value.trim()); } },
    h('h1', null, 'Sign in to fleetlake'),
    h('p', null, 'Paste an API key. `make run` (fleetlake serve --demo) prints a demo key; ',
      'others come from `fleetlake keys create --role ROLE`. The key stays in this tab (session storage).'),
    input,
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
    message ? errorBox(message) : null);
  clear(main).append(form);
  input.focus();
}

async function signIn(key) {
  setApiKey(key);
  try {
    const whoami = await api('/v1/whoami');
    if (whoami.auth && !whoami.key_id) throw new ApiError(401, 'unauthorized', 'a key is required');
    start(whoami);
  } catch (e) {
    setApiKey('');
    signInPage(e);
  }
}

function start(whoami) {
  if (ctx) ctx.events.stop();
  const access = new Access(whoami);
  const events = new EventStream(); // opened by the pages that listen (Alerts)
  ctx = { access, events };
  who.textContent = whoami.key_id ? `${whoami.role} · key ${whoami.key_id}` : 'authentication off';
  signout.hidden = !whoami.key_id;
  clear(nav);
  for (const name of ORDER) {
    const p = PAGES[name];
    if (access.canAll(p.needs)) nav.append(h('a', { href: '#/' + name, dataset: { page: name } }, p.title));
  }
  route();
}

function firstPage() {
  for (const name of ORDER) if (ctx.access.canAll(PAGES[name].needs)) return name;
  return null;
}

function route() {
  if (!ctx) return;
  if (cleanup) { cleanup(); cleanup = null; }
  const m = location.hash.match(/^#\/([a-z]+)(?:\/(.*))?$/);
  let name = m ? m[1] : null;
  const arg = m && m[2] ? decodeURIComponent(m[2]) : null;
  if (!name || !PAGES[name]) {
    name = firstPage();
    if (!name) { clear(main).append(h('p', null, 'This key\'s role may not use any dashboard page.')); return; }
    history.replaceState(null, '', '#/' + name);
  }
  for (const a of nav.children) a.classList.toggle('active', a.dataset.page === name || (name === 'device' && a.dataset.page === 'fleet'));
  const page = PAGES[name];
  clear(main);
  if (!ctx.access.canAll(page.needs)) {
    main.append(h('h1', null, page.title),
      h('p', { class: 'forbidden' }, `Your key's role (${ctx.access.who.role}) may not see this page: it needs `,
        page.needs.map(([mth, r]) => `${mth} ${r}`).join(', '), '.'));
    return;
  }
  document.title = page.title + ' · fleetlake';
  cleanup = page.render(main, ctx, arg) || null;
}

signout.addEventListener('click', () => {
  setApiKey('');
  if (ctx) ctx.events.stop();
  ctx = null;
  if (cleanup) { cleanup(); cleanup = null; }
  signInPage();
});
window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#key=')) { takeKeyFromHash(); signIn(apiKey()); return; }
  if (ctx) route();
});

takeKeyFromHash();
if (apiKey()) signIn(apiKey()); else signInPage();
