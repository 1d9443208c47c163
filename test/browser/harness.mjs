// Start-up shared by the browser test (ui.test.mjs) and the UI benchmark
// (test/bench/ui.mjs): a real `gantry up` on a temporary data directory,
// headless Chromium through playwright-core (from ui/node_modules), and the
// small helpers both use. Not a test file itself: `make test-browser` runs
// *.test.mjs only.
//
// Chromium: /usr/bin/chromium (apt-get install -y chromium) or CHROMIUM=<path>.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'ui/package.json'));
const { chromium } = require('playwright-core');

export const gantryBin = process.env.GANTRY_BIN ?? path.join(root, 'bin/gantry');
export const kubeBinDir = process.env.GANTRY_KUBE_BIN_DIR ?? path.join(root, 'bin');

export function findChromium() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  throw new Error(
    'no Chromium found for the browser test: install it with `apt-get install -y chromium` (Debian) or set CHROMIUM=<path to chrome>',
  );
}

/** Headless Chromium with the flags that keep it off the (closed) network. */
export function launchChromium() {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `gantry up` on a temporary data directory, resolved once it says it is
 * ready; stop() ends it by pid in every case, remove() deletes its data
 * directory afterwards.
 */
export async function startGantry() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gantry-browser-'));
  const addr = `127.0.0.1:${await freePort()}`;
  const child = spawn(gantryBin, ['up', '--data-dir', dataDir, '--http-addr', addr, '--nodes', '1', '--real-nodes', '0', '--kube-bin-dir', kubeBinDir, '--git-poll-interval', '1s'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = null;
  const exitedP = new Promise((r) => child.on('exit', (code, sig) => r((exited = { code, sig }))));
  const onData = (b) => (out += b.toString());
  const streams = [child.stdout, child.stderr];
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const g = {
    dataDir,
    url: `https://${addr}`,
    pid: child.pid,
    output: () => out,
    async stop() {
      if (exited) return exited;
      process.kill(child.pid, 'SIGTERM');
      let timer;
      const res = await Promise.race([exitedP, new Promise((r) => (timer = setTimeout(r, 60000, null)))]);
      clearTimeout(timer);
      if (!res) {
        process.kill(child.pid, 'SIGKILL');
        await exitedP;
      }
      // Children of gantry may hold its output open: do not wait for them.
      for (const s of streams) s.destroy();
      return exited;
    },
    /** The end of what gantry printed and logged, for a failure's report. */
    tail() {
      const log = path.join(dataDir, 'logs', 'gantry.log');
      const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n') : [];
      return 'gantry output:\n' + out.slice(-4000) + '\nlast lines of gantry.log:\n' + lines.slice(-60).join('\n');
    },
    remove() {
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
      https.globalAgent.destroy();
    },
  };
  // If this process dies first, gantry (and through its parent-death signal, its children) goes too.
  process.on('exit', () => {
    if (!exited) try { process.kill(child.pid, 'SIGKILL'); } catch {}
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(1));
  const deadline = Date.now() + 180000;
  while (!/^gantry is ready/m.test(out)) {
    if (exited) throw new Error(`gantry exited before ready (${JSON.stringify(exited)}):\n${out}`);
    if (Date.now() > deadline) {
      await g.stop();
      throw new Error(`gantry not ready after 180s:\n${out}`);
    }
    await sleep(100);
  }
  const m = /admin password: (\S+)/.exec(out);
  if (!m) {
    await g.stop();
    throw new Error(`gantry did not show the admin password:\n${out}`);
  }
  g.password = m[1];
  g.ca = fs.readFileSync(path.join(dataDir, 'pki', 'ca.crt'));
  return g;
}

/** A call to gantry's REST API, verifying gantry's certificate against its CA. */
export function apiCall(g, method, p, { body, token } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      g.url + p,
      {
        method,
        ca: g.ca,
        headers: {
          Accept: 'application/json',
          ...(data ? { 'Content-Type': 'application/json' } : {}),
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** kubectl against the host, as its admin (<data-dir>/kubeconfig). */
export function kubectl(g, ...args) {
  return execFileSync(path.join(kubeBinDir, 'kubectl'), ['--kubeconfig', path.join(g.dataDir, 'kubeconfig'), ...args], {
    stdio: 'pipe',
  }).toString();
}

/** Polls fn until it returns truthy or the time is up. */
export async function until(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    let v, err;
    try {
      v = await fn();
    } catch (e) {
      err = e;
    }
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}` + (err ? `: ${err.message}` : ''));
    await sleep(200);
  }
}

/** n made-up Applications, spread over projects, statuses, repositories and namespaces. */
export function fakeApps(n) {
  const syncs = ['Synced', 'OutOfSync', 'Unknown'];
  const healths = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];
  return Array.from({ length: n }, (_, i) => ({
    metadata: { name: `app-${String(i).padStart(4, '0')}`, namespace: 'gantry-system' },
    spec: {
      project: ['default', 'shop', 'billing', 'infra'][i % 4],
      source: { repoURL: `https://git.example.com/team${i % 10}/repo.git`, path: `apps/${i}`, targetRevision: 'main' },
      destination: { server: 'https://kubernetes.default.svc', namespace: `ns-${i % 7}` },
    },
    status: { sync: { status: syncs[i % 3] }, health: { status: healths[i % 6] } },
  }));
}

/**
 * A browser context logged in as admin (a real session) whose
 * applications list is `apps` instead of the server's, and whose
 * application stream is refused, so the list polls that fixed list.
 */
export async function contextWithApps(browser, g, apps, opts = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 860 }, ...opts });
  const res = await ctx.request.post(g.url + '/api/v1/session', { data: { username: 'admin', password: g.password } });
  if (res.status() !== 200) throw new Error(`logging in as admin: ${res.status()} ${await res.text()}`);
  const body = JSON.stringify({ metadata: {}, items: apps });
  await ctx.route('**/api/v1/applications', (r) => r.fulfill({ status: 200, contentType: 'application/json', body }));
  await ctx.route('**/api/v1/stream/applications**', (r) => r.fulfill({ status: 404, contentType: 'application/json', body: '{"message":"no"}' }));
  return ctx;
}
