// pages/pipeline.js — the pipeline's health from GET /metrics, polled every 2 s: ingest rate
// (from the accepted-records counter), rejections by code, per-shard processing and delivery
// lag, freshness, lake size (per table from GET /v1/tables when the key may call it, else
// bytes committed from the metrics), alerts by state and notification deliveries.
import uPlot from '/ui/vendor/uPlot.esm.js';
import { api } from '../api.js';
import { h, clear, fmtNum, fmtInt, fmtBytes, errorBox } from '../dom.js';
import { parseMetrics, samples, sum, max } from '../metrics.js';

const POLL_MS = 2000;
const HISTORY = 150; // points kept for the rate chart: 5 minutes at 2 s

function table(cols, rows, id) {
  return h('table', { id }, h('thead', null, h('tr', null, cols.map(c => h('th', { class: c.num ? 'num' : null }, c.name)))),
    h('tbody', null, rows.map(r => h('tr', null, r.map((v, i) => h('td', { class: cols[i].num ? 'num' : null }, v))))));
}

export default {
  title: 'Pipeline',
  needs: [['GET', '/metrics']],
  render(root, ctx) {
    const ctl = new AbortController();
    const canTables = ctx.access.can('GET', '/v1/tables');
    let prev = null, timer = null, plot = null, tick = 0;
    const hist = [[], [], []]; // t, accepted/s, rejected/s
    const stats = h('div', { class: 'stats', id: 'pipeline-stats' });
    const chartBox = h('div', { class: 'card', id: 'pipeline-chart' });
    const rejections = h('div', { class: 'grow card' });
    const lag = h('div', { class: 'grow card' });
    const lake = h('div', { class: 'grow card' });
    const alertsBox = h('div', { class: 'grow card' });
    const err = h('div');
    root.append(h('h1', null, 'Pipeline'), err, stats, chartBox,
      h('div', { class: 'row' }, rejections, lag), h('div', { class: 'row' }, lake, alertsBox));

    function rate(all, name, pred, now) {
      if (!prev) return null;
      const dt = (now - prev.at) / 1000;
      return dt > 0 ? Math.max(0, (sum(all, name, pred) - sum(prev.all, name, pred)) / dt) : null;
    }

    function drawChart(now, accepted, rejected) {
      hist[0].push(now / 1000); hist[1].push(accepted); hist[2].push(rejected);
      if (hist[0].length > HISTORY) for (const a of hist) a.shift();
      if (!plot) {
        plot = new uPlot({ title: 'records/s', width: Math.max(300, chartBox.clientWidth - 24), height: 180,
          series: [{}, { label: 'accepted', stroke: '#2e9d52', width: 1.5 }, { label: 'rejected', stroke: '#d0343a', width: 1.5 }],
          // the last five minutes, also while there are only a few points
          scales: { x: { time: true, range: (u, min, max) => [max - HISTORY * POLL_MS / 1000, max] } } }, hist, chartBox);
      } else plot.setData(hist);
    }

    async function drawLake(all) {
      if (canTables && tick % 5 === 0) {
        const res = await api('/v1/tables', { signal: ctl.signal });
        clear(lake).append(h('h2', null, 'Lake size'), table(
          [{ name: 'table' }, { name: 'kind' }, { name: 'files', num: 1 }, { name: 'rows', num: 1 }, { name: 'bytes', num: 1 }],
          res.tables.map(t => [t.name, t.kind, fmtInt(t.files), fmtInt(t.rows), t.kind === 'lake' ? fmtBytes(t.bytes) : '—']), 'pipeline-lake'));
      } else if (!canTables) {
        const rows = samples(all, 'fleetlake_lake_bytes_committed_total').map(s => [s.labels.table, fmtBytes(s.value)]);
        rows.push(['processed_sensor_data', fmtBytes(sum(all, 'fleetlake_process_bytes_committed_total'))]);
        clear(lake).append(h('h2', null, 'Lake bytes committed (since start)'),
          table([{ name: 'table' }, { name: 'bytes', num: 1 }], rows, 'pipeline-lake'));
      }
    }

    function draw(all, now) {
      const accepted = rate(all, 'fleetlake_records_total', l => l.outcome === 'accepted', now);
      const rejected = rate(all, 'fleetlake_records_total', l => l.outcome === 'rejected', now);
      const freshness = Math.max(max(all, 'fleetlake_process_lag_seconds'), max(all, 'fleetlake_process_last_commit_max_freshness_seconds'));
      const devices = sum(all, 'fleetlake_process_devices');
      const open = sum(all, 'fleetlake_alerts', l => l.state === 'open');
      const ready = sum(all, 'fleetlake_ready');
      clear(stats).append(...[
        ['ingest-rate', accepted === null ? '…' : fmtNum(accepted, 0), 'records/s accepted'],
        ['rejected-rate', rejected === null ? '…' : fmtNum(rejected, 1), 'records/s rejected'],
        ['freshness', fmtNum(freshness, 1) + ' s', 'freshness (processing)'],
        ['devices', fmtInt(devices), 'devices tracked'],
        ['open-alerts', fmtInt(open), 'open alerts'],
        ['ready', ready ? 'ready' : 'not ready', 'server'],
      ].map(([id, v, k]) => h('div', { class: 'stat' }, h('div', { class: 'v', id: 'pipeline-' + id }, v), h('div', { class: 'k' }, k))));
      if (accepted !== null) drawChart(now, accepted, rejected);
      const codes = samples(all, 'fleetlake_records_total', l => l.outcome === 'rejected');
      clear(rejections).append(h('h2', null, 'Rejections by code'), codes.length
        ? table([{ name: 'code' }, { name: 'total', num: 1 }, { name: 'per s', num: 1 }],
          codes.map(s => [s.labels.code, fmtInt(s.value), fmtNum(rate(all, 'fleetlake_records_total', l => l.outcome === 'rejected' && l.code === s.labels.code, now), 2)]), 'pipeline-rejections')
        : h('p', { class: 'muted' }, 'No record rejected since start.'));
      const shards = [...new Set(samples(all, 'fleetlake_process_lag_records').map(s => s.labels.shard))].sort();
      const delivery = (shard, what) => max(all, 'fleetlake_lake_delivery_lag_' + what, l => l.shard === shard && l.table === 'raw_sensor_data');
      clear(lag).append(h('h2', null, 'Lag per shard'), table(
        [{ name: 'shard' }, { name: 'processing records', num: 1 }, { name: 'processing s', num: 1 }, { name: 'raw delivery records', num: 1 }, { name: 'raw delivery s', num: 1 }, { name: 'stream bytes', num: 1 }],
        shards.map(sh => [sh, fmtInt(sum(all, 'fleetlake_process_lag_records', l => l.shard === sh)),
          fmtNum(sum(all, 'fleetlake_process_lag_seconds', l => l.shard === sh), 1),
          fmtInt(delivery(sh, 'records')), fmtNum(delivery(sh, 'seconds'), 1),
          fmtBytes(sum(all, 'fleetlake_stream_bytes', l => l.shard === sh && l.stream === 'records'))]), 'pipeline-lag'));
      const alertRows = samples(all, 'fleetlake_alerts').filter(s => s.value > 0).map(s => [s.labels.state, s.labels.severity, fmtInt(s.value)]);
      const notify = all.filter(s => /^fleetlake_notify_/.test(s.name) && !/_(bucket|sum|count)$/.test(s.name));
      clear(alertsBox).append(h('h2', null, 'Alerts and notifications'),
        alertRows.length ? table([{ name: 'state' }, { name: 'severity' }, { name: 'alerts', num: 1 }], alertRows, 'pipeline-alerts') : h('p', { class: 'muted' }, 'No alerts.'),
        notify.length ? table([{ name: 'metric' }, { name: 'labels' }, { name: 'value', num: 1 }],
          notify.map(s => [s.name, Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(' '), fmtNum(s.value, 0)]), 'pipeline-notify')
          : h('p', { class: 'muted' }, 'No notification channel metrics.'));
      root.dataset.ready = '1';
    }

    async function poll() {
      try {
        const text = await api('/metrics', { signal: ctl.signal });
        const now = Date.now(), all = parseMetrics(text);
        draw(all, now);
        await drawLake(all);
        prev = { all, at: now };
        tick++;
        clear(err);
      } catch (e) { if (!ctl.signal.aborted) clear(err).append(errorBox(e)); }
      if (!ctl.signal.aborted) timer = setTimeout(poll, POLL_MS);
    }
    poll();
    return () => { ctl.abort(); clearTimeout(timer); if (plot) plot.destroy(); };
  },
};
