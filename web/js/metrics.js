// metrics.js — a parser for the Prometheus text format of GET /metrics (samples only: names,
// labels, values; comments and types are skipped).

// Returns [{name, labels: {k: v}, value}].
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// Samples of one metric name, optionally filtered by a labels predicate.
export function samples(all, name, pred = () => true) {
  return all.filter(s => s.name === name && pred(s.labels));
}

export function sum(all, name, pred) {
  return samples(all, name, pred).reduce((a, s) => a + s.value, 0);
}

export function max(all, name, pred) {
  return samples(all, name, pred).reduce((a, s) => Math.max(a, s.value), 0);
}
