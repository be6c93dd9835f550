// pages/fleet.js — the fleet at a glance: every device's last position on the map coloured by
// status and anomaly, counts by status, and the device list (last seen, latest values) with
// search and filters. Polls GET /v1/devices (all pages of 1,000) every 5 s.
import { api } from '../api.js';
import { h, clear, fmtNum, fmtInt, ago, badge, errorBox, tip } from '../dom.js';
import { FleetMap } from '../map.js';

const POLL_MS = 5000;
// A device whose last anomaly is this recent counts as anomalous on the map and in the counts.
const ANOMALY_RECENT_MS = 10 * 60 * 1000;
const COLORS = { anomaly: '#d0343a', online: '#2e9d52', stale: '#d89a14', offline: '#8b94a1' };
// Rows drawn in the list at most; the search narrows it down.
const LIST_MAX = 500;

export async function fetchDevices(signal) {
  const all = [];
  let cursor = null;
  do {
    const q = '/v1/devices?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    const page = await api(q, { signal });
    all.push(...page.devices);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

function anomalous(d, now) {
  if (d.latest && d.latest.anomaly_flag) return true;
  const t = d.last_anomaly && (d.last_anomaly.timestamp || d.last_anomaly.at);
  return !!t && now - Date.parse(t) < ANOMALY_RECENT_MS;
}

function category(d, now) { return anomalous(d, now) ? 'anomaly' : d.status; }

export default {
  title: 'Fleet',
  needs: [['GET', '/v1/devices']],
  render(root) {
    const ctl = new AbortController();
    let devices = [], timer = null, loadedAt = 0;
    const counts = h('div', { class: 'stats', id: 'fleet-counts' });
    const search = h('input', { type: 'search', id: 'fleet-search', placeholder: 'search device id', oninput: () => draw() });
    const status = h('select', { id: 'fleet-status', onchange: () => draw() },
      ['all', 'online', 'stale', 'offline', 'anomaly'].map(s => h('option', { value: s }, s)));
    const canvas = h('canvas', { class: 'map', id: 'fleet-map' });
    const tbody = h('tbody');
    const note = h('p', { class: 'muted', id: 'fleet-note' });
    const err = h('div');
    const legend = h('div', { class: 'legend' },
      Object.entries(COLORS).map(([k, c]) => h('span', null, h('i', { class: 'dot', style: `background:${c}` }), k)));
    root.append(
      h('h1', null, 'Fleet'), err, counts,
      h('div', { class: 'card' }, canvas, legend),
      h('div', { class: 'toolbar' }, search, status, note),
      h('div', { class: 'scroll' }, h('table', { id: 'fleet-table' },
        h('thead', null, h('tr', null, h('th', null, 'device'), h('th', null, 'status'), h('th', null, 'last seen'),
          h('th', { class: 'num' }, '°C'), h('th', { class: 'num' }, '%RH'), h('th', { class: 'num' }, 'hPa'),
          h('th', { class: 'num' }, 'anomaly score'), h('th', { class: 'num' }, 'records'), h('th', { class: 'num' }, 'anomalies'))),
        tbody)));
    const map = new FleetMap(canvas, {
      onPick: p => { location.hash = '#/device/' + encodeURIComponent(p.id); },
      onHover: (p, e) => tip(p && p.label, e.clientX, e.clientY),
    });

    function filtered(now) {
      const q = search.value.trim().toLowerCase(), s = status.value;
      return devices.filter(d => (!q || d.device_id.toLowerCase().includes(q)) &&
        (s === 'all' || category(d, now) === s));
    }

    function draw() {
      const now = Date.now();
      const by = { online: 0, stale: 0, offline: 0, anomaly: 0 };
      for (const d of devices) { by[d.status] = (by[d.status] || 0) + 1; if (anomalous(d, now)) by.anomaly++; }
      clear(counts).append(
        h('div', { class: 'stat' }, h('div', { class: 'v', id: 'count-devices' }, fmtInt(devices.length)), h('div', { class: 'k' }, 'devices')),
        ...['online', 'stale', 'offline', 'anomaly'].map(k =>
          h('div', { class: 'stat' }, h('div', { class: 'v', id: 'count-' + k }, fmtInt(by[k])), h('div', { class: 'k' }, k === 'anomaly' ? 'anomalous (10 min)' : k))));
      const shown = filtered(now);
      const points = [];
      for (const d of shown) {
        const l = d.latest;
        if (!l || l.latitude === undefined || l.latitude === null) continue;
        const cat = category(d, now);
        points.push({ lat: l.latitude, lon: l.longitude, id: d.device_id, color: COLORS[cat] || COLORS.offline,
          radius: cat === 'anomaly' ? 5 : 3.5,
          label: `${d.device_id} · ${cat} · ${fmtNum(l.temperature)} °C · ${ago(d.last_seen, now)}` });
      }
      // anomalies drawn last, on top
      points.sort((a, b) => (a.color === COLORS.anomaly) - (b.color === COLORS.anomaly));
      map.setData(points);
      const rows = shown.slice(0, LIST_MAX).map(d => {
        const l = d.latest || {};
        const cat = category(d, now);
        return h('tr', null,
          h('td', null, h('a', { href: '#/device/' + encodeURIComponent(d.device_id) }, d.device_id)),
          h('td', null, badge(cat)), h('td', null, ago(d.last_seen, now)),
          h('td', { class: 'num' }, fmtNum(l.temperature)), h('td', { class: 'num' }, fmtNum(l.humidity)),
          h('td', { class: 'num' }, fmtNum(l.pressure)), h('td', { class: 'num' }, fmtNum(l.anomaly_score, 3)),
          h('td', { class: 'num' }, fmtInt(d.record_count)), h('td', { class: 'num' }, fmtInt(d.anomaly_count)));
      });
      tbody.replaceChildren(...rows);
      note.textContent = `${shown.length} of ${devices.length} devices` +
        (shown.length > LIST_MAX ? ` (list shows the first ${LIST_MAX}; search to narrow)` : '') +
        (points.length < shown.length ? ` · ${shown.length - points.length} without a position (or hidden by the key's class)` : '') +
        ` · updated ${ago(new Date(loadedAt).toISOString())}`;
      root.dataset.ready = '1';
    }

    async function load() {
      try {
        devices = await fetchDevices(ctl.signal);
        loadedAt = Date.now();
        clear(err);
        draw();
      } catch (e) {
        if (ctl.signal.aborted) return;
        clear(err).append(errorBox(e));
      }
      if (!ctl.signal.aborted) timer = setTimeout(load, POLL_MS);
    }
    load();
    return () => { ctl.abort(); clearTimeout(timer); map.destroy(); tip(null); };
  },
};
