// harness.mjs: what the dashboard's browser tests share (not a test file:
// node --test picks up *.test.mjs only).
//
//   startDaemon(tmp, args, { db })
//                           skyvisord from $SKYVISOR_BUILD (default ./build)
//                           with its embedded PostgreSQL in tmp/db (or, given
//                           db, on that database: dbOf(tmp) is the embedded
//                           one of another daemon), on a free loopback port,
//                           SKYVISOR_ADMIN_TOKEN = ADMIN; resolves once
//                           /readyz answers.  The caller owns the returned
//                           daemon and stops it with stopDaemon().
//   apiClient(base)         api(method, url, body?, token?) -> parsed JSON,
//                           asserting a 2xx.
//   launchBrowser(dir)      Debian's /usr/bin/chromium through playwright-core,
//                           a fresh profile in dir; page errors and CSP
//                           violations collect in pageErrors.
//   sql(tmp, statement)     psql on the embedded cluster's unix socket.
//   waitFor(what, fn)       polls fn until it returns something truthy.
//   cloudsim(...args)       tools/cloudsim.py with these arguments ("up
//                           spec.json dir", "down dir").
//   tearDown({ browser, daemon, log, simDir, tmp })
//                           what a suite's after() does: closes the browser,
//                           stops the daemon (its log printed when it did not
//                           exit cleanly), takes the clouds of simDir down
//                           (when given) and removes tmp.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(ROOT, process.env.SKYVISOR_BUILD || 'build');
export const ARTIFACTS = path.join(ROOT, 'build', 'test-artifacts');
export const ADMIN = `webtest-admin-${process.pid}-0123456789abcdef`;
export const CHROMIUM = '/usr/bin/chromium';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls fn (sync or async) every 300 ms until it returns a truthy value,
// which it returns; fails naming 'what' after timeoutMs.
export async function waitFor(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(300);
  }
}

// The libpq connection string of the embedded cluster in tmp/db.
export function dbOf(tmp) {
  return `host=${path.join(tmp, 'db', 'run')} port=5432 user=skyvisor dbname=skyvisor`;
}

// Returns { daemon, base, log() }.  The daemon is the caller's to stop.
export async function startDaemon(tmp, args = [], { db = null } = {}) {
  assert.ok(existsSync(path.join(BUILD, 'skyvisord')), `no ${BUILD}/skyvisord: run make`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let out = '';
  const daemon = spawn(path.join(BUILD, 'skyvisord'),
    ['--listen', `127.0.0.1:${port}`, ...(db ? ['--db', db] : ['--data-dir', path.join(tmp, 'db')]), ...args],
    { env: { ...process.env, SKYVISOR_ADMIN_TOKEN: ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout.on('data', d => { out += d; });
  daemon.stderr.on('data', d => { out += d; });
  const log = () => out;
  const deadline = Date.now() + 60000;
  for (;;) {
    assert.equal(daemon.exitCode, null, `skyvisord exited:\n${out}`);
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not up yet */ }
    assert.ok(Date.now() < deadline, `skyvisord not ready in 60 s:\n${out}`);
    await sleep(200);
  }
  return { daemon, base, log };
}

// SIGTERM (after a SIGCONT, in case a test paused it), then SIGKILL after
// 15 s.  Resolves with the exit code (null if killed).
export async function stopDaemon(daemon) {
  if (!daemon || daemon.exitCode !== null) return daemon ? daemon.exitCode : null;
  daemon.kill('SIGCONT');
  daemon.kill('SIGTERM');
  await new Promise(r => {
    const t = setTimeout(() => { daemon.kill('SIGKILL'); r(); }, 15000);
    daemon.on('exit', () => { clearTimeout(t); r(); });
  });
  return daemon.exitCode;
}

export function apiClient(base) {
  return async function api(method, url, body, token = ADMIN) {
    const resp = await fetch(base + url, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    assert.ok(resp.ok, `${method} ${url} -> ${resp.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

export function sql(tmp, statement) {
  return execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-qAt', '-h', path.join(tmp, 'db', 'run'),
    '-p', '5432', '-U', 'skyvisor', '-d', 'skyvisor', '-c', statement], { stdio: 'pipe' }).toString();
}

// Returns { browser, page, pageErrors }; the browser is the caller's to close.
export async function launchBrowser(profileDir) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  const page = browser.pages()[0] || await browser.newPage();
  const pageErrors = []; // script errors and CSP violations seen by the browser
  page.on('pageerror', e => pageErrors.push(String(e)));
  page.on('console', m => {
    // The API's own 4xx answers are logged as "Failed to load resource": expected here.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  return { browser, page, pageErrors };
}

export async function signIn(page, token, tenant = '') {
  await page.fill('#token', token);
  await page.fill('#tenant', tenant);
  await page.click('#signin-form button[type=submit]');
}

export function cloudsim(...args) {
  return execFileSync('python3', [path.join(ROOT, 'tools', 'cloudsim.py'), ...args],
    { stdio: 'pipe', timeout: 180000 }).toString();
}

export async function tearDown({ browser, daemon, log, simDir, tmp }) {
  if (browser) await browser.close().catch(() => {});
  const rc = await stopDaemon(daemon);
  if (rc !== 0 && log) console.log(log().split('\n').filter(l => !l.includes(' http')).slice(-200).join('\n'));
  if (simDir) {
    try { cloudsim('down', simDir); } catch (e) { console.log(`cloudsim down: ${e.message}`); }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
