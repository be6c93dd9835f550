// dashboard_timing.mjs — page-ready times of the dashboard, for bench/dashboard.py (which
// prepares the server and passes FL_URL, FL_KEY, FL_DEVICES, FL_RUNS). Each run opens a fresh
// tab (no cache) already signed in, navigates, and measures from the navigation's start
// (performance.timeOrigin) to the page's ready condition. Prints min/median/max per page and
// exits 1 when a median is over its 1 s target.
import { chromium } from 'playwright-core';

const URL_ = process.env.FL_URL, KEY = process.env.FL_KEY;
const DEVICES = Number(process.env.FL_DEVICES), RUNS = Number(process.env.FL_RUNS || 7);
const TARGET_MS = 1000;
const browser = await chromium.launch({ executablePath: process.env.FL_CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });

async function measure(hash, ready, arg) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript(k => sessionStorage.setItem('fleetlake.api_key', k), KEY);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    await page.goto(URL_ + '/' + hash);
    await page.waitForFunction(ready, arg, { timeout: 30000, polling: 'raf' });
    times.push(await page.evaluate(() => performance.now()));
    if (errors.length) throw new Error(errors.join('; '));
    await context.close();
  }
  const order = times.map(t => t.toFixed(0)).join(', ');
  times.sort((a, b) => a - b);
  return { min: times[0], median: times[times.length >> 1], max: times[times.length - 1], order };
}

const pages = [
  ['fleet page, ' + DEVICES + ' devices', '#/fleet',
    n => document.getElementById('count-devices')?.textContent === n.toLocaleString('en-US') &&
      document.querySelectorAll('#fleet-table tbody tr').length > 0 && document.getElementById('main').dataset.ready === '1',
    DEVICES],
  ['device page, 30 days', '#/device/truck-0001/30d',
    () => document.querySelectorAll('#device-charts .uplot').length === 3 &&
      /hourly_summary/.test(document.getElementById('device-note')?.textContent || ''), null],
];
let missed = 0;
console.log('| page | runs | min ms | median ms | max ms | target | each run, in order (ms) |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, hash, ready, arg] of pages) {
  const r = await measure(hash, ready, arg);
  if (r.median > TARGET_MS) missed++;
  console.log(`| ${name} | ${RUNS} | ${r.min.toFixed(0)} | ${r.median.toFixed(0)} | ${r.max.toFixed(0)} | ${r.median <= TARGET_MS ? 'met' : 'MISSED'} (≤ ${TARGET_MS} ms) | ${r.order} |`);
}
await browser.close();
process.exit(missed ? 1 : 0);
