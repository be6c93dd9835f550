// pages/sql.js — a SQL console over POST /v1/query: the table list (GET /v1/tables; click a
// name for a starter query), results as a table, the server's CSV of the same query as a
// download. Ctrl+Enter runs.
import { api, query, queryCsv } from '../api.js';
import { h, clear, fmtInt, errorBox } from '../dom.js';

const SHOW_MAX = 1000; // rows drawn; the CSV download has them all

export default {
  title: 'SQL',
  needs: [['POST', '/v1/query'], ['GET', '/v1/tables']],
  render(root) {
    const ctl = new AbortController();
    const text = h('textarea', { class: 'sql', id: 'sql-text', spellcheck: 'false' },
      'SELECT device_id, count(*) AS readings, avg(temperature) AS avg_temperature, sum(anomaly_flag) AS anomalies\n  FROM processed_sensor_data\n GROUP BY device_id ORDER BY anomalies DESC LIMIT 20');
    const run = h('button', { type: 'button', class: 'primary', id: 'sql-run', onclick: () => execute() }, 'Run');
    const csv = h('button', { type: 'button', id: 'sql-csv', onclick: () => download() }, 'Download CSV');
    const status = h('span', { class: 'muted', id: 'sql-status' });
    const result = h('div', { class: 'scroll', id: 'sql-result' });
    const list = h('ul');
    text.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); execute(); } });
    root.append(h('h1', null, 'SQL'), h('div', { class: 'row' },
      h('div', { class: 'card tables-list' }, h('h2', null, 'Tables'), list, h('p', { class: 'muted' }, 'SQLite dialect; timestamps are µs since the epoch (docs/sql.md).')),
      h('div', { class: 'grow' }, text, h('div', { class: 'toolbar' }, run, csv, status), result)));

    api('/v1/tables', { signal: ctl.signal }).then(res => {
      list.replaceChildren(...res.tables.map(t => h('li', { title: `${t.kind} · ${fmtInt(t.rows)} rows`, onclick: () => { text.value = `SELECT * FROM ${t.name} LIMIT 100`; execute(); } },
        t.name, ' ', h('span', { class: 'muted' }, `(${fmtInt(t.rows)})`))));
    }, e => { if (!ctl.signal.aborted) list.replaceChildren(errorBox(e)); });

    async function execute() {
      run.disabled = true;
      status.textContent = 'running…';
      try {
        const res = await query(text.value, ctl.signal);
        const shown = res.rows.slice(0, SHOW_MAX);
        clear(result).append(h('table', { id: 'sql-table' },
          h('thead', null, h('tr', null, res.columns.map(c => h('th', null, c)))),
          h('tbody', null, shown.map(r => h('tr', null, r.map(v => h('td', { class: typeof v === 'number' ? 'num' : null }, v === null ? 'NULL' : String(v))))))));
        status.textContent = `${fmtInt(res.rows.length)} row(s)` + (res.rows.length > SHOW_MAX ? ` (first ${SHOW_MAX} shown)` : '') +
          (res.stats ? ` · ${res.stats.elapsed_ms} ms` : '');
        root.dataset.ready = '1';
      } catch (e) {
        if (!ctl.signal.aborted) { clear(result).append(errorBox(e)); status.textContent = ''; }
      } finally { run.disabled = false; }
    }

    async function download() {
      try {
        const body = await queryCsv(text.value);
        const url = URL.createObjectURL(new Blob([body], { type: 'text/csv' }));
        const a = h('a', { href: url, download: 'fleetlake-query.csv' });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (e) { clear(result).append(errorBox(e)); }
    }
    return () => ctl.abort();
  },
};
