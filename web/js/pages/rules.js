// pages/rules.js — the alert rules (GET /v1/rules): built-in, configured and API ones with their
// condition, and, for keys that may change rules, a form to add a rule (PUT /v1/rules/{name})
// and buttons to pause, resume or delete rules made through the API. Configured rules are
// read-only here: they belong to the configuration file.
import { api } from '../api.js';
import { h, clear, fmtTime, badge, errorBox } from '../dom.js';

const TYPES = ['threshold', 'anomaly', 'offline', 'quality', 'pipeline'];
const FIELDS = {
  threshold: ['temperature', 'humidity', 'pressure', 'anomaly_score'],
  pipeline: ['freshness_s', 'consumer_lag', 'ingest_error_rate', 'availability', 'free_disk',
    'fsync_latency_ms', 'ingest_rate'],
};
const OPS = ['>', '>=', '<', '<='];
const SEVERITIES = ['critical', 'warning', 'info'];

// "temperature > 8 for 3 reading(s)": what the rule watches, in words.
export function condition(r) {
  switch (r.type) {
    case 'anomaly': return 'an anomalous reading';
    case 'threshold': return `${r.field} ${r.op} ${r.value} for ${r.count} reading(s)`;
    case 'offline': return `no reading for ${r.after_s} s`;
    case 'quality': return `hourly data quality ${r.op} ${r.value}`;
    case 'pipeline': return `${r.field} ${r.op} ${r.value} for ${r.after_s} s`;
    default: return r.type;
  }
}

function select(id, options, value) {
  return h('select', { id }, options.map(o => h('option', { value: o, selected: o === value }, o)));
}

export default {
  title: 'Rules',
  needs: [['GET', '/v1/rules']],
  render(root, ctx) {
    const ctl = new AbortController();
    const canEdit = ctx.access.can('PUT', '/v1/rules/{name}');
    const err = h('div');
    const tbody = h('tbody');
    root.append(h('h1', null, 'Alert rules'), err,
      h('p', { class: 'muted' }, 'Rules from the configuration file are changed there; rules made here ',
        'are stored in meta.db and take effect at once (docs/alerts.md).'),
      canEdit ? form() : null,
      h('div', { class: 'scroll' }, h('table', { id: 'rules-table' },
        h('thead', null, h('tr', null, ['name', 'condition', 'severity', 'fleets', 'source', 'state', 'updated', '']
          .map(c => h('th', null, c)))), tbody)));

    async function change(name, options) {
      try {
        await api('/v1/rules/' + encodeURIComponent(name), options);
        clear(err);
      } catch (e) { clear(err).append(errorBox(e)); }
      load();
    }

    function actions(r) {
      if (!canEdit || r.source !== 'api') return null;
      const toggle = r.enabled ? 'Pause' : 'Resume';
      return [
        h('button', { type: 'button', class: 'toggle', onclick: () => change(r.name, { method: 'PUT', body: { ...r, enabled: !r.enabled } }) }, toggle),
        h('button', { type: 'button', class: 'delete', onclick: () => { if (confirm(`Delete rule ${r.name}? Its open alerts resolve.`)) change(r.name, { method: 'DELETE' }); } }, 'Delete'),
      ];
    }

    function draw(rules) {
      tbody.replaceChildren(...rules.map(r => h('tr', { dataset: { name: r.name, source: r.source, enabled: r.enabled } },
        h('td', null, r.name), h('td', { class: 'wrap' }, condition(r)), h('td', null, badge(r.severity)),
        h('td', null, r.fleets.length ? r.fleets.join(', ') : 'all'), h('td', null, r.source),
        h('td', { class: 'wrap' }, r.problem ? h('span', { class: 'error' }, r.problem) : r.enabled ? 'active' : 'paused'),
        h('td', { title: r.updated_by ? 'by key ' + r.updated_by : '' }, r.updated_at ? fmtTime(r.updated_at) : '—'),
        h('td', null, actions(r)))));
      root.dataset.ready = '1';
    }

    async function load() {
      try {
        const res = await api('/v1/rules', { signal: ctl.signal });
        draw(res.rules);
      } catch (e) { if (!ctl.signal.aborted) clear(err).append(errorBox(e)); }
    }

    // A new rule: the common keys; the server checks them and names a bad one.
    function form() {
      const name = h('input', { type: 'text', id: 'rule-name', placeholder: 'name', size: 14 });
      const type = select('rule-type', TYPES, 'threshold');
      const field = h('select', { id: 'rule-field' });
      const op = select('rule-op', OPS, '>');
      const value = h('input', { type: 'text', id: 'rule-value', size: 6 });
      const count = h('input', { type: 'text', id: 'rule-count', size: 3, value: '1' });
      const after = h('input', { type: 'text', id: 'rule-after', size: 5, value: '0' });
      const severity = select('rule-severity', SEVERITIES, 'warning');
      const fleets = h('input', { type: 'text', id: 'rule-fleets', placeholder: 'fleets (comma)', size: 12 });
      const fillFields = () => field.replaceChildren(...(FIELDS[type.value] || []).map(f => h('option', { value: f }, f)));
      type.addEventListener('change', fillFields);
      fillFields();
      async function submit(e) {
        e.preventDefault();
        const body = { type: type.value, op: op.value, severity: severity.value,
          fleets: fleets.value.split(',').map(s => s.trim()).filter(Boolean) };
        if (FIELDS[type.value]) body.field = field.value;
        // as typed: the server reads numbers from strings and names the key it cannot read
        if (value.value.trim()) body.value = value.value.trim();
        if (count.value.trim()) body.count = count.value.trim();
        if (after.value.trim()) body.after_s = after.value.trim();
        try {
          await api('/v1/rules', { method: 'POST', body: { name: name.value.trim(), ...body } });
          clear(err);
          name.value = '';
        } catch (ex) { clear(err).append(errorBox(ex)); }
        load();
      }
      const label = (text, el) => h('label', { class: 'muted' }, text + ' ', el);
      return h('form', { class: 'toolbar card', id: 'rule-form', onsubmit: submit },
        name, type, field, op, label('value', value), label('readings in a row', count),
        label('for s', after), severity, fleets,
        h('button', { class: 'primary', type: 'submit' }, 'Add rule'));
    }

    load();
    return () => ctl.abort();
  },
};
