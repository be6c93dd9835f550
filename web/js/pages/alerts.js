// pages/alerts.js — open, acknowledged and resolved alerts with acknowledge and resolve
// buttons (POST /v1/alerts/{id}/ack|resolve), kept live by the tab's /v1/events stream
// (each "alert" event carries the alert's new state), with a 30 s poll as a safety net.
import { api } from '../api.js';
import { h, clear, ago, fmtTime, badge, errorBox } from '../dom.js';

const STATES = ['open', 'acknowledged', 'resolved', 'all'];
const POLL_MS = 30000;

export default {
  title: 'Alerts',
  needs: [['GET', '/v1/alerts']],
  render(root, ctx) {
    const ctl = new AbortController();
    const canAct = ctx.access.can('POST', '/v1/alerts/{id}/{ack|resolve}');
    let state = 'open', timer = null;
    const alerts = new Map(); // id -> alert
    const live = h('span', { class: 'live', id: 'alerts-live' }, 'live');
    const tabs = h('div', { class: 'toolbar' }, STATES.map(s =>
      h('button', { type: 'button', dataset: { state: s }, onclick: () => { state = s; load(); } }, s)), live);
    const tbody = h('tbody');
    const note = h('p', { class: 'muted' });
    const err = h('div');
    root.append(h('h1', null, 'Alerts'), err, tabs, note,
      h('div', { class: 'scroll' }, h('table', { id: 'alerts-table' },
        h('thead', null, h('tr', null, ['id', 'state', 'severity', 'rule', 'device', 'summary', 'opened', 'updated', ''].map(c => h('th', null, c)))),
        tbody)));

    async function act(a, action) {
      try {
        const updated = await api(`/v1/alerts/${a.id}/${action}`, { method: 'POST' });
        alerts.set(updated.id, updated);
        draw();
      } catch (e) { clear(err).append(errorBox(e)); load(); }
    }

    function draw() {
      for (const b of tabs.querySelectorAll('button')) b.classList.toggle('on', b.dataset.state === state);
      const rows = [...alerts.values()].filter(a => state === 'all' || a.state === state).sort((a, b) => b.id - a.id);
      tbody.replaceChildren(...rows.map(a => h('tr', { dataset: { id: a.id, state: a.state } },
        h('td', null, a.id), h('td', null, badge(a.state)), h('td', null, badge(a.severity)), h('td', null, a.rule),
        h('td', null, a.device_id ? h('a', { href: '#/device/' + encodeURIComponent(a.device_id) }, a.device_id) : '—'),
        h('td', { class: 'wrap' }, a.summary), h('td', { title: fmtTime(a.opened_at) }, ago(a.opened_at)),
        h('td', { title: fmtTime(a.updated_at) }, ago(a.updated_at)),
        h('td', null, canAct && a.state === 'open' ? h('button', { type: 'button', class: 'ack', onclick: () => act(a, 'ack') }, 'Acknowledge') : null,
          canAct && a.state !== 'resolved' ? h('button', { type: 'button', class: 'resolve', onclick: () => act(a, 'resolve') }, 'Resolve') : null))));
      note.textContent = rows.length ? `${rows.length} alert(s)` : `No ${state === 'all' ? '' : state + ' '}alerts.`;
      root.dataset.ready = '1';
    }

    async function load() {
      clearTimeout(timer);
      try {
        const q = state === 'all' ? '' : '&state=' + state;
        const res = await api('/v1/alerts?limit=500' + q, { signal: ctl.signal });
        for (const [id, a] of alerts) if (state === 'all' || a.state === state) alerts.delete(id);
        for (const a of res.alerts) alerts.set(a.id, a);
        clear(err);
        draw();
      } catch (e) { if (!ctl.signal.aborted) clear(err).append(errorBox(e)); }
      if (!ctl.signal.aborted) timer = setTimeout(load, POLL_MS);
    }

    const off = ctx.events.on((type, a) => {
      if (type !== 'alert' || !a || a.id === undefined) return;
      alerts.set(a.id, a);
      draw();
    });
    const offStatus = ctx.events.onStatus(on => live.classList.toggle('on', on));
    load();
    return () => { ctl.abort(); clearTimeout(timer); off(); offStatus(); };
  },
};
