// pages/device.js — one device: temperature, humidity and pressure over a chosen range with
// anomalies marked, its track on the map, its alerts and its hourly summaries.
// Where the points come from, so that a browser never receives more than a few thousand:
//   15 min, 1 h   GET /v1/devices/{id}/readings (every reading, at most 10,000)
//   6 h, 24 h     POST /v1/query: one-minute buckets of processed_sensor_data
//   7 d, 30 d     POST /v1/query: hourly_summary, plus the hours it has not summarised yet
//                 (the open hour) bucketed from processed_sensor_data
import uPlot from '/ui/vendor/uPlot.esm.js';
import { api, query, objects } from '../api.js';
import { h, clear, fmtNum, fmtInt, fmtTime, ago, badge, errorBox, sqlStr } from '../dom.js';
import { FleetMap } from '../map.js';

const RANGES = [
  { name: '15m', s: 900, src: 'readings' }, { name: '1h', s: 3600, src: 'readings' },
  { name: '6h', s: 21600, src: 'minutes' }, { name: '24h', s: 86400, src: 'minutes' },
  { name: '7d', s: 7 * 86400, src: 'hours' }, { name: '30d', s: 30 * 86400, src: 'hours' },
];
const US = 1e6;
const HOUR_US = 3600 * US;

// {t: seconds[], temperature[], humidity[], pressure[], anomaly[] (temperature where flagged,
// else null), track: [[lat, lon]...] | null, note}
async function fromReadings(id, range, signal) {
  const from = new Date(Date.now() - range.s * 1000).toISOString();
  const res = await api(`/v1/devices/${encodeURIComponent(id)}/readings?from=${from}&limit=10000`, { signal });
  const d = { t: [], temperature: [], humidity: [], pressure: [], anomaly: [], track: [] };
  for (const r of res.readings) {
    d.t.push(Date.parse(r.timestamp) / 1000);
    d.temperature.push(r.temperature); d.humidity.push(r.humidity); d.pressure.push(r.pressure);
    d.anomaly.push(r.anomaly_flag ? (r.temperature ?? 0) : null);
    if (r.latitude !== undefined && r.latitude !== null) d.track.push([r.latitude, r.longitude]);
  }
  d.note = `${fmtInt(res.readings.length)} readings` + (res.truncated ? ' (the first 10,000 of the range)' : '');
  return d;
}

function bucketSql(id, fromUs, bucketUs, extra = '') {
  return `SELECT timestamp - timestamp % ${bucketUs} AS t, avg(temperature) AS temperature,
  avg(humidity) AS humidity, avg(pressure) AS pressure, sum(anomaly_flag) AS anomalies,
  count(*) AS n${extra}
FROM processed_sensor_data WHERE device_id = ${sqlStr(id)} AND timestamp >= ${fromUs}
GROUP BY 1 ORDER BY 1`;
}

async function fromMinutes(id, range, signal) {
  const fromUs = (Date.now() - range.s * 1000) * 1000;
  const res = await query(bucketSql(id, fromUs, 60 * US, ', avg(latitude) AS lat, avg(longitude) AS lon'), signal);
  const d = { t: [], temperature: [], humidity: [], pressure: [], anomaly: [], track: [] };
  let n = 0;
  for (const r of objects(res)) {
    d.t.push(r.t / US);
    d.temperature.push(r.temperature); d.humidity.push(r.humidity); d.pressure.push(r.pressure);
    d.anomaly.push(r.anomalies > 0 ? r.temperature : null);
    if (r.lat !== null) d.track.push([r.lat, r.lon]);
    n += r.n;
  }
  d.note = `${fmtInt(d.t.length)} one-minute averages of ${fmtInt(n)} readings (processed_sensor_data)`;
  return d;
}

async function fromHours(id, range, signal) {
  const fromUs = Math.floor((Date.now() - range.s * 1000) * 1000 / HOUR_US) * HOUR_US;
  const summary = objects(await query(`SELECT hour, avg_temperature, avg_humidity, avg_pressure,
  anomaly_count, record_count FROM hourly_summary
WHERE device_id = ${sqlStr(id)} AND hour >= ${fromUs} ORDER BY hour`, signal));
  const lastHour = summary.length ? summary[summary.length - 1].hour : fromUs - HOUR_US;
  const open = objects(await query(bucketSql(id, lastHour + HOUR_US, HOUR_US), signal));
  const d = { t: [], temperature: [], humidity: [], pressure: [], anomaly: [], track: null };
  for (const r of summary) {
    d.t.push(r.hour / US);
    d.temperature.push(r.avg_temperature); d.humidity.push(r.avg_humidity); d.pressure.push(r.avg_pressure);
    d.anomaly.push(r.anomaly_count > 0 ? r.avg_temperature : null);
  }
  for (const r of open) {
    d.t.push(r.t / US);
    d.temperature.push(r.temperature); d.humidity.push(r.humidity); d.pressure.push(r.pressure);
    d.anomaly.push(r.anomalies > 0 ? r.temperature : null);
  }
  d.note = `${fmtInt(summary.length)} hours from hourly_summary + ${fmtInt(open.length)} not yet summarised (from processed_sensor_data); track shown for ranges up to 24 h`;
  return d;
}

const SOURCES = { readings: fromReadings, minutes: fromMinutes, hours: fromHours };

function chart(el, title, unit, t, values, anomaly, color, sync) {
  const width = Math.max(300, el.clientWidth - 4);
  const series = [{}, { label: title, stroke: color, width: 1.5, value: (u, v) => v === null ? '—' : v.toFixed(2) + ' ' + unit }];
  const data = [t, values];
  if (anomaly) {
    series.push({ label: 'anomaly', stroke: '#d0343a', fill: '#d0343a', width: 0, paths: () => null,
      points: { show: true, size: 9, stroke: '#d0343a', fill: '#d0343a' } });
    data.push(anomaly);
  }
  return new uPlot({ title: `${title} (${unit})`, width, height: 200, series, cursor: { sync: { key: sync } },
    scales: { x: { time: true } }, axes: [{}, { size: 60 }] }, data, el);
}

export default {
  title: 'Device',
  needs: [['GET', '/v1/devices/{id}']],
  // arg: "<id>" or "<id>/<range>" (#/device/truck-0042/30d); device ids have no '/'.
  render(root, ctx, arg) {
    const [id, rangeName] = (arg || '').split('/');
    if (!id) { location.hash = '#/fleet'; return null; }
    const ctl = new AbortController();
    const canQuery = ctx.access.can('POST', '/v1/query');
    const canAlerts = ctx.access.can('GET', '/v1/alerts');
    let range = RANGES.find(r => r.name === rangeName) || RANGES[0], plots = [], map = null, timer = null;
    const head = h('div', { class: 'stats', id: 'device-head' });
    const buttons = h('div', { class: 'toolbar' }, 'range:', RANGES.map(r =>
      h('button', { type: 'button', dataset: { range: r.name }, disabled: r.src !== 'readings' && !canQuery,
        title: r.src !== 'readings' && !canQuery ? 'needs POST /v1/query' : null,
        onclick: () => { range = r; history.replaceState(null, '', `#/device/${encodeURIComponent(id)}/${r.name}`); loadSeries(); } }, r.name)));
    const note = h('p', { class: 'muted', id: 'device-note' });
    const charts = h('div', { id: 'device-charts' });
    const canvas = h('canvas', { class: 'map', id: 'device-map', style: 'height:300px' });
    const alertsBox = h('div', { id: 'device-alerts' });
    const summaryBox = h('div', { id: 'device-summary' });
    const err = h('div');
    root.append(h('h1', null, h('a', { href: '#/fleet' }, 'Fleet'), ' / ', id), err, head, buttons, note, charts,
      h('div', { class: 'row' },
        h('div', { class: 'grow card' }, h('h2', null, 'Track'), canvas),
        h('div', { class: 'grow card' }, h('h2', null, 'Alerts'), alertsBox)),
      h('div', { class: 'card' }, h('h2', null, 'Hourly summaries (last 48 h)'), summaryBox));
    const trackNote = h('p', { class: 'muted' });
    canvas.after(trackNote);

    async function loadHead() {
      try {
        const d = await api('/v1/devices/' + encodeURIComponent(id), { signal: ctl.signal });
        const l = d.latest || {};
        clear(head).append(
          h('div', { class: 'stat' }, h('div', { class: 'v' }, badge(d.status)), h('div', { class: 'k' }, 'last seen ' + ago(d.last_seen))),
          h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtNum(l.temperature)), h('div', { class: 'k' }, '°C')),
          h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtNum(l.humidity)), h('div', { class: 'k' }, '%RH')),
          h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtNum(l.pressure)), h('div', { class: 'k' }, 'hPa')),
          h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtInt(d.record_count)), h('div', { class: 'k' }, 'records')),
          h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtInt(d.anomaly_count)), h('div', { class: 'k' },
            d.last_anomaly ? `anomalies · last ${d.last_anomaly.kind} on ${d.last_anomaly.metric} ${ago(d.last_anomaly.timestamp)}` : 'anomalies')));
      } catch (e) { if (!ctl.signal.aborted) clear(err).append(errorBox(e)); }
    }

    async function loadSeries() {
      for (const b of buttons.querySelectorAll('button')) b.classList.toggle('on', b.dataset.range === range.name);
      const started = performance.now();
      try {
        const d = await SOURCES[range.src](id, range, ctl.signal);
        for (const p of plots) p.destroy();
        clear(charts);
        const boxes = [h('div', { class: 'card' }), h('div', { class: 'card' }), h('div', { class: 'card' })];
        charts.append(...boxes);
        plots = [
          chart(boxes[0], 'temperature', '°C', d.t, d.temperature, d.anomaly, '#e07b1f', id),
          chart(boxes[1], 'humidity', '%RH', d.t, d.humidity, null, '#2463c9', id),
          chart(boxes[2], 'pressure', 'hPa', d.t, d.pressure, null, '#6b4fbb', id),
        ];
        const marked = d.anomaly.filter(v => v !== null).length;
        note.textContent = `${d.note} · ${marked} anomalous point(s) marked · ${Math.round(performance.now() - started)} ms`;
        charts.dataset.points = String(d.t.length);
        // The map (and its 740 KB of outlines) only when there is a track to draw.
        canvas.hidden = !(d.track && d.track.length);
        trackNote.textContent = !d.track ? 'The track is shown for ranges up to 24 h.'
          : d.track.length ? '' : 'No positions in this range (or hidden by the key\'s class).';
        if (d.track && d.track.length) {
          if (!map) map = new FleetMap(canvas);
          map.setData([{ lat: d.track.at(-1)[0], lon: d.track.at(-1)[1], color: '#2463c9', id, label: id }], d.track);
        }
        root.dataset.ready = '1';
      } catch (e) { if (!ctl.signal.aborted) clear(err).append(errorBox(e)); }
    }

    async function loadAlerts() {
      if (!canAlerts) { clear(alertsBox).append(h('p', { class: 'muted' }, 'This key may not list alerts.')); return; }
      try {
        const res = await api(`/v1/alerts?device_id=${encodeURIComponent(id)}&limit=20`, { signal: ctl.signal });
        clear(alertsBox).append(res.alerts.length ? h('table', null,
          h('thead', null, h('tr', null, ['id', 'state', 'severity', 'rule', 'opened', 'summary'].map(c => h('th', null, c)))),
          h('tbody', null, res.alerts.map(a => h('tr', null, h('td', null, a.id), h('td', null, badge(a.state)),
            h('td', null, badge(a.severity)), h('td', null, a.rule), h('td', null, ago(a.opened_at)), h('td', { class: 'wrap' }, a.summary)))))
          : h('p', { class: 'muted' }, 'No alerts for this device.'));
      } catch (e) { if (!ctl.signal.aborted) clear(alertsBox).append(errorBox(e)); }
    }

    async function loadSummary() {
      if (!canQuery) { clear(summaryBox).append(h('p', { class: 'muted' }, 'Needs POST /v1/query.')); return; }
      try {
        const from = Math.floor((Date.now() * 1000 - 48 * HOUR_US) / HOUR_US) * HOUR_US;
        const res = await query(`SELECT hour, record_count, avg_temperature, min_temperature, max_temperature,
  anomaly_count, data_quality_score FROM hourly_summary WHERE device_id = ${sqlStr(id)} AND hour >= ${from}
ORDER BY hour DESC`, ctl.signal);
        const rows = objects(res);
        clear(summaryBox).append(rows.length ? h('table', null,
          h('thead', null, h('tr', null, ['hour', 'records', 'avg °C', 'min °C', 'max °C', 'anomalies', 'quality'].map(c => h('th', null, c)))),
          h('tbody', null, rows.map(r => h('tr', null, h('td', null, fmtTime(new Date(r.hour / 1000).toISOString())),
            h('td', { class: 'num' }, fmtInt(r.record_count)), h('td', { class: 'num' }, fmtNum(r.avg_temperature, 2)),
            h('td', { class: 'num' }, fmtNum(r.min_temperature, 2)), h('td', { class: 'num' }, fmtNum(r.max_temperature, 2)),
            h('td', { class: 'num' }, fmtInt(r.anomaly_count)), h('td', { class: 'num' }, fmtNum(r.data_quality_score, 3))))))
          : h('p', { class: 'muted' }, 'No closed hour summarised yet (an hour is summarised shortly after it ends).'));
      } catch (e) { if (!ctl.signal.aborted) clear(summaryBox).append(errorBox(e)); }
    }

    function refresh() {
      loadHead();
      loadAlerts();
      if (range.src === 'readings') loadSeries();
      timer = setTimeout(refresh, 10000);
    }
    loadHead(); loadSeries(); loadAlerts(); loadSummary();
    timer = setTimeout(refresh, 10000);
    return () => { ctl.abort(); clearTimeout(timer); for (const p of plots) p.destroy(); if (map) map.destroy(); };
  },
};
