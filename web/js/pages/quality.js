// pages/quality.js — data quality as a device x hour heat map of data_quality_score (or of
// anomaly counts) from hourly_summary; the hours not summarised yet (the open hour) are
// computed the same way from processed_sensor_data (quality_flags = 0 is a passing record,
// docs/anomaly.md), and marked as provisional in the tooltip.
import { query, objects } from '../api.js';
import { h, clear, fmtNum, fmtInt, fmtTime, errorBox, tip } from '../dom.js';

const HOUR_US = 3600e6;
const RANGES = [{ name: '24h', hours: 24 }, { name: '7d', hours: 168 }];
const CELL_H = 6, LABEL_W = 110, HEAD_H = 22;

// Red (0) -> amber -> green (1).
function qualityColor(v) {
  if (v === null || v === undefined) return '#eef1f5';
  const hue = Math.max(0, Math.min(1, (v - 0.5) * 2)) * 120;
  return `hsl(${hue}, 65%, 48%)`;
}
function anomalyColor(n, max) {
  if (!n) return '#eef1f5';
  return `rgba(208, 52, 58, ${0.25 + 0.75 * Math.log1p(n) / Math.log1p(max || 1)})`;
}

export default {
  title: 'Data quality',
  needs: [['POST', '/v1/query']],
  render(root) {
    const ctl = new AbortController();
    let range = RANGES[0], metric = 'quality', grid = null;
    const toolbar = h('div', { class: 'toolbar' },
      RANGES.map(r => h('button', { type: 'button', dataset: { range: r.name }, onclick: () => { range = r; load(); } }, r.name)),
      h('select', { id: 'quality-metric', onchange: e => { metric = e.target.value; draw(); } },
        h('option', { value: 'quality' }, 'data_quality_score'), h('option', { value: 'anomalies' }, 'anomaly_count')));
    const stats = h('div', { class: 'stats' });
    const note = h('p', { class: 'muted', id: 'quality-note' });
    const canvas = h('canvas', { class: 'heat', id: 'quality-heat' });
    const err = h('div');
    root.append(h('h1', null, 'Data quality'), err, toolbar, stats, note,
      h('div', { class: 'card', style: 'overflow:auto; max-height:640px' }, canvas));

    async function load() {
      for (const b of toolbar.querySelectorAll('button')) b.classList.toggle('on', b.dataset.range === range.name);
      const fromUs = Math.floor((Date.now() * 1000 - range.hours * HOUR_US) / HOUR_US) * HOUR_US;
      try {
        const summary = objects(await query(`SELECT device_id, hour, data_quality_score AS q, anomaly_count AS a,
  record_count AS n FROM hourly_summary WHERE hour >= ${fromUs}`, ctl.signal));
        let last = fromUs - HOUR_US;
        for (const r of summary) last = Math.max(last, r.hour);
        const open = objects(await query(`SELECT device_id, timestamp - timestamp % ${HOUR_US} AS hour,
  avg(quality_flags = 0) AS q, sum(anomaly_flag) AS a, count(*) AS n
FROM processed_sensor_data WHERE timestamp >= ${last + HOUR_US} GROUP BY 1, 2`, ctl.signal));
        for (const r of open) r.provisional = true;
        build(summary.concat(open), fromUs);
        clear(err);
      } catch (e) { if (!ctl.signal.aborted) clear(err).append(errorBox(e)); }
    }

    function build(cells, fromUs) {
      const devices = [...new Set(cells.map(c => c.device_id))].sort();
      const hours = [];
      const nowHour = Math.floor(Date.now() * 1000 / HOUR_US) * HOUR_US;
      for (let t = fromUs; t <= nowHour; t += HOUR_US) hours.push(t);
      const row = new Map(devices.map((d, i) => [d, i]));
      const at = new Map();
      let records = 0, passing = 0, anomalies = 0, maxA = 0;
      for (const c of cells) {
        at.set(row.get(c.device_id) + ':' + Math.round((c.hour - fromUs) / HOUR_US), c);
        records += c.n; passing += c.q * c.n; anomalies += c.a; maxA = Math.max(maxA, c.a);
      }
      grid = { devices, hours, at, maxA, fromUs };
      clear(stats).append(
        h('div', { class: 'stat' }, h('div', { class: 'v', id: 'quality-devices' }, fmtInt(devices.length)), h('div', { class: 'k' }, 'devices')),
        h('div', { class: 'stat' }, h('div', { class: 'v', id: 'quality-cells' }, fmtInt(cells.length)), h('div', { class: 'k' }, 'device-hours')),
        h('div', { class: 'stat' }, h('div', { class: 'v' }, records ? fmtNum(passing / records, 3) : '—'), h('div', { class: 'k' }, 'quality (record-weighted)')),
        h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtInt(anomalies)), h('div', { class: 'k' }, 'anomalies')));
      note.textContent = cells.some(c => c.provisional)
        ? 'The latest hour(s) are not summarised yet: computed from processed_sensor_data, provisional.' : '';
      draw();
    }

    function draw() {
      if (!grid) return;
      const { devices, hours, at, maxA } = grid;
      const cellW = Math.max(6, Math.min(40, Math.floor((root.clientWidth - LABEL_W - 60) / Math.max(1, hours.length))));
      const rowH = devices.length > 150 ? CELL_H : 14;
      const w = LABEL_W + hours.length * cellW, hgt = HEAD_H + devices.length * rowH;
      const dpr = window.devicePixelRatio || 1;
      canvas.width = w * dpr; canvas.height = hgt * dpr;
      canvas.style.width = w + 'px'; canvas.style.height = hgt + 'px';
      const g = canvas.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = '#fff'; g.fillRect(0, 0, w, hgt);
      g.fillStyle = '#6b7685'; g.font = '10px sans-serif';
      const every = Math.ceil(40 / cellW);
      hours.forEach((t, j) => { if (j % every === 0) g.fillText(new Date(t / 1000).toISOString().slice(11, 13) + 'h', LABEL_W + j * cellW, 14); });
      devices.forEach((d, i) => {
        if (rowH >= 10) {
          g.save(); g.beginPath(); g.rect(0, HEAD_H + i * rowH, LABEL_W - 4, rowH); g.clip();
          g.fillStyle = '#1d2430'; g.fillText(d, 2, HEAD_H + i * rowH + rowH - 3);
          g.restore();
        }
        for (let j = 0; j < hours.length; j++) {
          const c = at.get(i + ':' + j);
          g.fillStyle = metric === 'quality' ? qualityColor(c ? c.q : null) : anomalyColor(c ? c.a : 0, maxA);
          g.fillRect(LABEL_W + j * cellW, HEAD_H + i * rowH, cellW - 1, rowH - 1);
        }
      });
      canvas.onmousemove = e => {
        const r = canvas.getBoundingClientRect();
        const j = Math.floor((e.clientX - r.left - LABEL_W) / cellW), i = Math.floor((e.clientY - r.top - HEAD_H) / rowH);
        const c = i >= 0 && j >= 0 ? at.get(i + ':' + j) : null;
        tip(c ? `${devices[i]} · ${fmtTime(new Date(hours[j] / 1000).toISOString())} · quality ${fmtNum(c.q, 3)} · ${c.a} anomalies · ${c.n} records${c.provisional ? ' (provisional)' : ''}` : null, e.clientX, e.clientY);
      };
      canvas.onmouseleave = () => tip(null);
      canvas.onclick = e => {
        const r = canvas.getBoundingClientRect();
        const i = Math.floor((e.clientY - r.top - HEAD_H) / rowH);
        if (devices[i]) location.hash = '#/device/' + encodeURIComponent(devices[i]);
      };
      root.dataset.ready = '1';
    }
    load();
    const timer = setInterval(load, 60000);
    return () => { ctl.abort(); clearInterval(timer); tip(null); };
  },
};
