// dashboard.mjs — the dashboard's browser checks: playwright-core drives Debian's headless
// Chromium (/usr/bin/chromium, no browser download) against a running `fleetlake serve --demo`.
// Run by test_dashboard.py, which starts the server and passes:
//   FL_URL        the server's base URL
//   FL_KEY        the demo data_engineer key (printed by serve --demo)
//   FL_OP_KEY     an operator key
//   FL_DEVICES    how many trucks the simulator drives
//   FL_ARTIFACTS  directory for screenshots
// Each page must load without console errors and show real data. Prints one line per check
// and "N passed, N failed"; exits 1 on any failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const URL_ = process.env.FL_URL, KEY = process.env.FL_KEY, OP_KEY = process.env.FL_OP_KEY;
const DEVICES = Number(process.env.FL_DEVICES);
const ART = process.env.FL_ARTIFACTS;
const CHROMIUM = process.env.FL_CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(ART, { recursive: true });

let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log('ok   ' + what); } else { failed++; console.log('FAIL ' + what); }
}
function eq(got, want, what) { check(got === want, `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`); }

async function api(p, { method = 'GET', body, key = KEY } = {}) {
  const r = await fetch(URL_ + p, { method, headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });

// A fresh tab signed in with key; console errors and page errors are collected.
async function open(key, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(URL_ + '/');
  await page.fill('#api-key', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('#nav a', { timeout: 10000 }).catch(async e => {
    throw new Error(`${name}: sign-in failed: ${errors.join('; ')} ${(await page.textContent('main')).slice(0, 300)}`);
  });
  return { page, context, errors, name };
}

async function visit(tab, hash, ready = 'main[data-ready="1"]', timeout = 15000) {
  await tab.page.evaluate(() => delete document.getElementById('main').dataset.ready);
  await tab.page.evaluate(h => { location.hash = h; }, hash);
  await tab.page.waitForSelector(ready, { timeout });
}

async function shot(tab, file) {
  await tab.page.screenshot({ path: path.join(ART, file), fullPage: false });
}

try {
  // ---- the static files ---------------------------------------------------------------------
  const index = await fetch(URL_ + '/');
  eq(index.status, 200, 'GET / without a key');
  check((index.headers.get('content-type') || '').startsWith('text/html'), 'GET / is HTML');

  // ---- fleet ----------------------------------------------------------------------------------
  const eng = await open(KEY, 'data_engineer');
  const navNames = await eng.page.$$eval('#nav a', as => as.map(a => a.textContent));
  eq(navNames.join(','), 'Fleet,Alerts,Rules,Data quality,Pipeline,SQL', 'data_engineer sees every page');
  await visit(eng, '#/fleet');
  await eng.page.waitForFunction(n => document.getElementById('count-devices')?.textContent === String(n), DEVICES, { timeout: 15000 })
    .catch(() => {});
  eq(await eng.page.textContent('#count-devices'), String(DEVICES), 'fleet: device count equals the simulator\'s');
  const rows = await eng.page.$$eval('#fleet-table tbody tr', r => r.length);
  eq(rows, DEVICES, 'fleet: one list row per device');
  const painted = await eng.page.$eval('#fleet-map', c => {
    const g = c.getContext('2d'), d = g.getImageData(0, 0, c.width, c.height).data;
    let green = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 140 && d[i] < 80 && d[i + 2] < 110) green++;
    return green;
  });
  check(painted > 50, `fleet: the map has device dots (${painted} green pixels)`);
  await eng.page.fill('#fleet-search', 'truck-0001');
  eq(await eng.page.$$eval('#fleet-table tbody tr', r => r.length), 1, 'fleet: search narrows the list');
  await eng.page.fill('#fleet-search', '');
  await shot(eng, 'fleet.png');

  // ---- device ---------------------------------------------------------------------------------
  await visit(eng, '#/device/truck-0001');
  const points = Number(await eng.page.getAttribute('#device-charts', 'data-points'));
  check(points > 10, `device: the chart has points (${points})`);
  eq(await eng.page.$$eval('#device-charts .uplot', u => u.length), 3, 'device: temperature, humidity and pressure charts');
  await shot(eng, 'device.png');
  await eng.page.click('button[data-range="6h"]');
  await eng.page.waitForFunction(() => /one-minute averages/.test(document.getElementById('device-note').textContent), null, { timeout: 15000 });
  check(Number(await eng.page.getAttribute('#device-charts', 'data-points')) >= 1, 'device: 6 h range from one-minute buckets');
  await eng.page.click('button[data-range="30d"]');
  await eng.page.waitForFunction(() => /hourly_summary/.test(document.getElementById('device-note').textContent), null, { timeout: 15000 });
  check(Number(await eng.page.getAttribute('#device-charts', 'data-points')) >= 1, 'device: 30 d range from hourly_summary + open hour');

  // ---- alerts: an injected anomaly appears live and can be acknowledged -----------------------
  await visit(eng, '#/alerts');
  await eng.page.waitForSelector('#alerts-live.on', { timeout: 10000 });
  // A device of its own (after the fleet checks): the anomaly rule's cooldown cannot hide it.
  const INJECT = 'truck-injected-' + Date.now();
  const inject = await api('/v1/records', { method: 'POST', body: [{ device_id: INJECT, timestamp: new Date().toISOString(),
    temperature: 160, humidity: 40, pressure: 1010, location: { latitude: 37.5, longitude: 127.0 } }] });
  eq(inject.status, 200, 'inject an implausible reading (160 °C)');
  const row = await eng.page.waitForSelector(`#alerts-table tr[data-state="open"]:has(a[href="#/device/${INJECT}"])`, { timeout: 20000 })
    .catch(() => null);
  check(row !== null, 'alerts: the injected anomaly appears as an open alert without a reload');
  if (row) {
    const id = await row.getAttribute('data-id');
    await shot(eng, 'alerts.png');
    await eng.page.click(`#alerts-table tr[data-id="${id}"] button.ack`);
    // The anomaly rule may also resolve it by itself once the truck sends normal readings
    // again: either way it leaves the open list, and the server has it acknowledged.
    await eng.page.waitForFunction(i => !document.querySelector(`#alerts-table tr[data-id="${i}"][data-state="open"]`), id, { timeout: 15000 });
    const after = await api(`/v1/alerts?device_id=${INJECT}&limit=100`);
    const a = after.body.alerts.find(x => String(x.id) === id);
    check(a && a.acknowledged_at !== null, `alerts: alert ${id} is acknowledged on the server (${a && a.state})`);
    await eng.page.click('button[data-state="all"]');
    await eng.page.waitForSelector(`#alerts-table tr[data-id="${id}"]:not([data-state="open"])`, { timeout: 15000 });
    check(true, 'alerts: the "all" tab lists it as no longer open');
  }

  // ---- rules: add a rule through the form, pause it, delete it ---------------------------------
  await visit(eng, '#/rules');
  check(await eng.page.$('#rules-table tr[data-name="anomaly"][data-source="builtin"]') !== null,
    'rules: the built-in anomaly rule is listed');
  eq(await eng.page.$$eval('#rules-table tr[data-source="builtin"] button', b => b.length), 0,
    'rules: built-in rules have no buttons');
  await eng.page.fill('#rule-name', 'cold_cargo');
  await eng.page.selectOption('#rule-op', '<');
  await eng.page.fill('#rule-value', '-30');
  await eng.page.fill('#rule-count', '2');
  await eng.page.selectOption('#rule-severity', 'critical');
  await eng.page.click('#rule-form button[type=submit]');
  await eng.page.waitForSelector('#rules-table tr[data-name="cold_cargo"][data-source="api"][data-enabled="true"]', { timeout: 10000 });
  const made = await api('/v1/rules/cold_cargo');
  eq([made.status, made.body.type, made.body.field, made.body.op, made.body.value, made.body.count, made.body.severity].join(' '),
    '200 threshold temperature < -30 2 critical', 'rules: the form made the rule on the server');
  await shot(eng, 'rules.png');
  await eng.page.click('#rules-table tr[data-name="cold_cargo"] button.toggle');
  await eng.page.waitForSelector('#rules-table tr[data-name="cold_cargo"][data-enabled="false"]', { timeout: 10000 });
  eq((await api('/v1/rules/cold_cargo')).body.enabled, false, 'rules: Pause disables it on the server');
  eng.page.once('dialog', d => d.accept());
  await eng.page.click('#rules-table tr[data-name="cold_cargo"] button.delete');
  await eng.page.waitForSelector('#rules-table tr[data-name="cold_cargo"]', { state: 'detached', timeout: 10000 });
  eq((await api('/v1/rules/cold_cargo')).status, 404, 'rules: Delete removes it from the server');

  // ---- data quality ---------------------------------------------------------------------------
  await visit(eng, '#/quality');
  const qDevices = Number((await eng.page.textContent('#quality-devices')).replace(/,/g, ''));
  check(qDevices >= DEVICES, `quality: the heat map has a row per device (${qDevices})`);
  await shot(eng, 'quality.png');

  // ---- pipeline -------------------------------------------------------------------------------
  await visit(eng, '#/pipeline');
  await eng.page.waitForFunction(() => /^\d+$/.test(document.getElementById('pipeline-ingest-rate')?.textContent || ''), null, { timeout: 10000 });
  const rate = Number(await eng.page.textContent('#pipeline-ingest-rate'));
  check(rate > 0, `pipeline: ingest rate > 0 (${rate} records/s)`);
  check(await eng.page.$$eval('#pipeline-lag tbody tr', r => r.length) >= 1, 'pipeline: per-shard lag rows');
  await eng.page.waitForSelector('#pipeline-lake', { timeout: 5000 });
  await eng.page.waitForTimeout(2500); // a few more samples on the rate chart
  await shot(eng, 'pipeline.png');

  // ---- SQL ------------------------------------------------------------------------------------
  await visit(eng, '#/sql', 'main li');
  await eng.page.fill('#sql-text', 'SELECT device_id, last_seen FROM device_state ORDER BY device_id');
  await eng.page.evaluate(() => delete document.getElementById('main').dataset.ready);
  await eng.page.click('#sql-run');
  await eng.page.waitForSelector('main[data-ready="1"]');
  const sqlRows = await eng.page.$$eval('#sql-table tbody tr', r => r.length);
  check(sqlRows >= DEVICES, `sql: the console returns rows (${sqlRows})`);
  const [download] = await Promise.all([eng.page.waitForEvent('download'), eng.page.click('#sql-csv')]);
  const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
  check(csv.length >= DEVICES + 1 && csv[0].includes('device_id'), `sql: CSV download (${csv.length} lines)`);
  await shot(eng, 'sql.png');
  eq(eng.errors.join('\n'), '', 'data_engineer: no console errors');
  await eng.context.close();

  // ---- operator: health and alerts, no data rows ----------------------------------------------
  const op = await open(OP_KEY, 'operator');
  const opNav = await op.page.$$eval('#nav a', as => as.map(a => a.textContent));
  eq(opNav.join(','), 'Alerts,Rules,Pipeline', 'operator sees Alerts, Rules and Pipeline only');
  await visit(op, '#/fleet', 'p.forbidden');
  eq(await op.page.$$eval('#fleet-table', t => t.length), 0, 'operator: no device rows on #/fleet');
  await visit(op, '#/sql', 'p.forbidden');
  eq(await op.page.$$eval('#sql-text', t => t.length), 0, 'operator: no SQL console');
  await visit(op, '#/pipeline');
  await op.page.waitForSelector('#pipeline-lake', { timeout: 5000 });
  check(true, 'operator: the pipeline page loads');
  await visit(op, '#/alerts');
  eq(op.errors.join('\n'), '', 'operator: no console errors');
  await op.context.close();
} catch (e) {
  failed++;
  console.log('FAIL exception: ' + (e.stack || e));
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
