// Benchmark of the web UI with 1,000 applications (make bench-ui; make bench
// runs it too): headless Chromium against a real `gantry up`, logged in as
// admin, the applications list fed 1,000 made-up apps (the browser test's
// fixture and start-up, test/browser/harness.mjs; the list is answered by
// Playwright's routing, not by gantry, so this times the UI). Each run opens
// the list in a fresh browser context (nothing cached) and measures inside the
// page:
//   - first paint: navigation start until the first 50 rows are painted, split
//     at the arrival of the list's response (/api/v1/applications);
//   - next page, a status filter (OutOfSync), a search (text put in the box;
//     the list waits 150 ms after the last key before it filters): from the
//     action until the changed list is painted.
// "Painted" is the frame after the DOM change (requestAnimationFrame, then a
// task). Printed as a table of p50/p95/max; asserts nothing about time.
//   RUNS (default 10) runs after one warm-up run; APPS (default 1000) apps.
// With GANTRY_URL, GANTRY_USER and GANTRY_PASSWORD it uses that gantry and its
// own applications instead (nothing routed: the list arrives as the UI gets
// it, on gantry's stream): BenchmarkGitOps10000 runs it so with GANTRY_BENCH_UI=1.
import { contextWithApps, fakeApps, findChromium, launchChromium, startGantry } from '../browser/harness.mjs';

const runs = Number(process.env.RUNS ?? 10);
const apps = Number(process.env.APPS ?? 1000);

// Installed in the page before its own scripts (page functions cannot reach
// this module's): notes when the first `want` rows exist and when the frame
// after them was painted, and defines __timeChange.
function installProbes(want) {
  const afterPaint = (fn) =>
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => fn(performance.now());
      ch.port2.postMessage(0);
    });
  const rows = new MutationObserver(() => {
    if (document.querySelectorAll('tr[data-app]').length < want) return;
    rows.disconnect();
    afterPaint((t) => (window.__firstPaint = t));
  });
  rows.observe(document, { subtree: true, childList: true });
  // Does act ('click', or 'type:TEXT' into an input) to el and resolves with
  // the milliseconds until the list's summary ("Showing 1–50 of 1000") has
  // changed and the frame after was painted.
  window.__timeChange = (el, act) =>
    new Promise((resolve, reject) => {
      const summary = () => document.querySelector('.list-summary')?.textContent ?? '';
      const before = summary();
      const timer = setTimeout(() => reject(new Error(`the list still says "${before}" after 30 s`)), 30000);
      const obs = new MutationObserver(() => {
        if (summary() === before) return;
        obs.disconnect();
        afterPaint((t) => {
          clearTimeout(timer);
          resolve(t - t0);
        });
      });
      obs.observe(document.body, { subtree: true, childList: true, characterData: true });
      const t0 = performance.now();
      if (act === 'click') {
        el.click();
      } else {
        // As typing does: React reads the value the native setter wrote.
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(el, act.slice('type:'.length));
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }
    });
}

/** One run: a fresh context, the list opened, then next page, a filter and a search. */
async function run(browser, g, items) {
  const ctx = real ? await realContext(browser, g) : await contextWithApps(browser, g, items);
  try {
    const p = await ctx.newPage();
    p.setDefaultTimeout(30000);
    await p.addInitScript(installProbes, Math.min(50, items.length));
    await p.goto(g.url + '/applications');
    await p.waitForFunction(() => window.__firstPaint !== undefined);
    const r = await p.evaluate(() => {
      const res = performance.getEntriesByType('resource');
      const list = res.find((e) => /\/api\/v1\/applications$/.test(e.name));
      const stream = res.find((e) => /\/api\/v1\/stream\/applications/.test(e.name));
      const session = res.find((e) => /\/api\/v1\/session\/userinfo/.test(e.name));
      return {
        firstPaint: window.__firstPaint,
        // The list's answer; on gantry's stream, its first byte (the stream stays open).
        response: list?.responseEnd ?? stream?.responseStart ?? NaN,
        session: session?.responseEnd ?? NaN,
      };
    });
    r.render = r.firstPaint - r.response;
    const change = async (locator, act) => p.evaluate(([el, a]) => window.__timeChange(el, a), [await locator.elementHandle(), act]);
    r.nextPage = await change(p.getByRole('link', { name: 'Next ›' }), 'click');
    // Made-up apps: some OutOfSync, names with team3; gantry's own (all
    // Synced once the benchmark ran): the Synced ones, names with r001.
    r.filter = await change(p.getByRole('checkbox', { name: real ? /^Synced/ : /OutOfSync/ }), 'click');
    r.search = await change(p.getByRole('searchbox', { name: 'Search applications' }), real ? 'type:r001' : 'type:team3');
    return r;
  } finally {
    await ctx.close();
  }
}

function percentile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

function table(title, rows, results) {
  const head = [title, 'p50', 'p95', 'max'];
  const body = rows.map(([label, key]) => {
    const xs = results.map((r) => r[key]);
    return [label, ...[0.5, 0.95, 1].map((q) => `${Math.round(percentile(xs, q))} ms`)];
  });
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

// A context signed in to an existing gantry as GANTRY_USER, nothing routed.
async function realContext(browser, g) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 860 } });
  const res = await ctx.request.post(g.url + '/api/v1/session', { data: { username: g.user, password: g.password } });
  if (res.status() !== 200) throw new Error(`logging in as ${g.user}: ${res.status()} ${await res.text()}`);
  return ctx;
}

const real = Boolean(process.env.GANTRY_URL);
findChromium(); // before gantry starts: no Chromium, no benchmark
const g = real
  ? {
      url: process.env.GANTRY_URL,
      user: process.env.GANTRY_USER,
      password: process.env.GANTRY_PASSWORD,
      stop: async () => {},
      remove: () => {},
      tail: () => '',
    }
  : await startGantry();
let browser;
let code = 1;
try {
  browser = await launchChromium();
  const items = fakeApps(apps);
  await run(browser, g, items); // warm-up: Chromium's and gantry's first-use costs
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await run(browser, g, items));
  console.log(
    '\n' +
      table(
        `web UI, ${apps} applications${real ? " (gantry's own, on its stream)" : ''} (${runs} runs, fresh browser context each)`,
        [
          ['navigation start → session checked (page, scripts, userinfo)', 'session'],
          ['navigation start → list response (page, scripts, session, list)', 'response'],
          ['list response → first 50 rows painted', 'render'],
          ['navigation start → first 50 rows painted', 'firstPaint'],
          ['next page painted', 'nextPage'],
          ['status filter (OutOfSync) painted', 'filter'],
          ['search typed → painted (150 ms pause included)', 'search'],
        ],
        results,
      ) +
      '\n',
  );
  code = 0;
} catch (e) {
  console.error(e);
  console.error(g.tail());
} finally {
  await browser?.close().catch(() => {});
  await g.stop();
  g.remove();
}
process.exit(code);
