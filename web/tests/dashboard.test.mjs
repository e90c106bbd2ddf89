// dashboard.test.mjs: the skyvisor dashboard in a real browser.
//
// Starts its own skyvisord (embedded PostgreSQL in a temp --data-dir, random
// free loopback port, SKYVISOR_ADMIN_TOKEN set; binary from $SKYVISOR_BUILD
// or ./build), declares a small demo through the REST API, then drives
// Debian's /usr/bin/chromium with playwright-core (fresh profile) through
// sign-in, map, topology, live updates, an error injected with psql on the
// embedded cluster's unix socket, a tenant sign-in and a wrong token.
// Screenshots go to build/test-artifacts/dashboard-*.png.  Everything it
// started is stopped in after(), even on failure.
//
// Run: tools/web-test   (or: node --test web/tests/ from the repo root)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.resolve(ROOT, process.env.SKYVISOR_BUILD || 'build');
const ARTIFACTS = path.join(ROOT, 'build', 'test-artifacts');
const ADMIN = `webtest-admin-${process.pid}-0123456789abcdef`;
const CHROMIUM = '/usr/bin/chromium';

let tmp, daemon, daemonLog = '', base, browser, page, redToken;
const pageErrors = []; // script errors and CSP violations seen by the browser

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function api(method, url, body, token = ADMIN) {
  const resp = await fetch(base + url, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  assert.ok(resp.ok, `${method} ${url} -> ${resp.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function sql(statement) {
  execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-qAt', '-h', path.join(tmp, 'db', 'run'),
    '-p', '5432', '-U', 'skyvisor', '-d', 'skyvisor', '-c', statement], { stdio: 'pipe' });
}

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

async function signIn(token, tenant = '') {
  await page.fill('#token', token);
  await page.fill('#tenant', tenant);
  await page.click('#signin-form button[type=submit]');
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  assert.ok(existsSync(path.join(BUILD, 'skyvisord')), `no ${BUILD}/skyvisord: run make`);
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(path.join(tmpdir(), 'skyweb-'));
  chmodSync(tmp, 0o711); // the embedded PostgreSQL runs as the postgres user
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  daemon = spawn(path.join(BUILD, 'skyvisord'), ['--listen', `127.0.0.1:${port}`, '--data-dir', path.join(tmp, 'db'), '--no-reconciler'],
    { env: { ...process.env, SKYVISOR_ADMIN_TOKEN: ADMIN }, stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout.on('data', d => { daemonLog += d; });
  daemon.stderr.on('data', d => { daemonLog += d; });
  const deadline = Date.now() + 60000;
  for (;;) {
    assert.equal(daemon.exitCode, null, `skyvisord exited:\n${daemonLog}`);
    try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not up yet */ }
    assert.ok(Date.now() < deadline, `skyvisord not ready in 60 s:\n${daemonLog}`);
    await new Promise(r => setTimeout(r, 200));
  }

  // The demo: three clouds with a gateway and a host each, three links, two tenants.
  const clouds = [['web-fra', 'aws', 'eu-central-1', 'DE', 'public'],
    ['web-iowa', 'gcp', 'us-central1', 'US', 'public'], ['web-lis', 'private', 'lisbon-dc1', 'PT', 'private']];
  let n = 1;
  for (const [name, provider, region, jurisdiction, kind] of clouds) {
    await api('POST', '/v1/clouds', { name, provider, region, jurisdiction, kind });
    await api('POST', '/v1/hosts', { name: `${name}-gw`, cloud: name, role: 'gateway', tunnel_ip: `198.18.${n}.1`,
      public_ip: `198.19.0.${n}`, ovsdb: `unix:/run/skyweb/${name}-gw.sock`, openflow: `unix:/run/skyweb/${name}-gw.mgmt` });
    await api('POST', '/v1/hosts', { name: `${name}-h1`, cloud: name, tunnel_ip: `198.18.${n}.2`, capacity: 8,
      ovsdb: `unix:/run/skyweb/${name}-h1.sock`, openflow: `unix:/run/skyweb/${name}-h1.mgmt` });
    n++;
  }
  await api('PUT', '/v1/cloud-links/web-fra/web-iowa', { cost: 10, rtt_ms: 98 });
  await api('PUT', '/v1/cloud-links/web-fra/web-lis', { cost: 3, rtt_ms: 31 });
  await api('PUT', '/v1/cloud-links/web-iowa/web-lis', { cost: 12 });
  for (const t of ['red', 'blue']) {
    const tenant = await api('POST', '/v1/tenants', { name: t });
    if (t === 'red') redToken = tenant.token;
    const net = `/v1/tenants/${t}/networks`;
    await api('POST', net, { name: `${t}-prod`, subnet: '10.0.0.0/24' });
    for (const sw of ['front', 'back', 'mgmt']) await api('POST', `${net}/${t}-prod/switches`, { name: sw });
    await api('POST', `${net}/${t}-prod/links`, { a: 'front', b: 'back' });
    await api('POST', `${net}/${t}-prod/links`, { a: 'back', b: 'mgmt' });
    const vms = [['web', 'front', { cloud: 'web-fra' }], ['cache', 'front', { cloud: 'web-iowa' }],
      ['db', 'back', { jurisdiction: ['PT'] }], ['ops', 'mgmt', { cloud: 'web-lis' }]];
    let i = 1;
    for (const [name, sw, placement] of vms) {
      await api('POST', `${net}/${t}-prod/vms`, { name, mac: `02:00:00:00:00:0${i}`, ip: `10.0.0.${i}`,
        switch: sw, placement });
      i++;
    }
  }
  // Some objects realized, so the pictures show all three states.
  sql("UPDATE cloud SET state='realized'; UPDATE host SET state='realized'; " +
      "UPDATE vswitch SET state='realized'; UPDATE vlink SET state='realized'; " +
      "UPDATE vm SET state='realized' WHERE name IN ('cache', 'ops')");

  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', e => pageErrors.push(String(e)));
  page.on('console', m => {
    // The API's own 4xx answers are logged as "Failed to load resource": expected here.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise(r => { const t = setTimeout(() => { daemon.kill('SIGKILL'); r(); }, 15000);
      daemon.on('exit', () => { clearTimeout(t); r(); }); });
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('a wrong token shows the 401 problem and no data', async () => {
  const shell = await fetch(`${base}/ui/`);
  assert.equal(shell.status, 200);
  assert.match(shell.headers.get('content-security-policy') || '', /script-src 'self'/);
  await page.goto(`${base}/ui/`);
  await signIn('not-a-valid-token-at-all');
  await page.waitForSelector('#problem:not([hidden])');
  const text = await page.textContent('#problem');
  assert.match(text, /401/);
  assert.match(text, /Missing or invalid bearer token/);
  assert.equal(await page.isVisible('#app'), false);
  assert.equal(await page.locator('#map svg, #topology svg, #table-body tr').count(), 0);
  await shot('wrong-token');
});

test('admin sees the clouds, their gateways and the links on the map', async () => {
  await page.goto(`${base}/ui/`);
  await signIn(ADMIN);
  await page.waitForSelector('#map svg g.cloud[data-name="web-lis"]');
  for (const c of ['web-fra', 'web-iowa', 'web-lis']) {
    const g = page.locator(`#map g.cloud[data-name="${c}"]`);
    assert.equal(await g.count(), 1, c);
    assert.equal(await g.getAttribute('data-state'), 'realized');
    assert.equal(await g.locator(`g.gateway[data-name="${c}-gw"]`).count(), 1, `${c}-gw`);
    assert.match(await g.locator('text.gw-label').textContent(), new RegExp(`${c}-gw`));
  }
  assert.equal(await page.locator('#map g.cloud-link').count(), 3);
  const labels = await page.locator('#map text.link-label').allTextContents();
  assert.deepEqual(labels.sort(), ['cost 10', 'cost 12', 'cost 3']);
  // The gateway tunnels form the minimum spanning tree of the costs:
  // fra-lis (3) and fra-iowa (10), not iowa-lis (12).
  await page.waitForSelector('#map g.cloud-links[data-tunnels="2"]');
  const tree = await page.locator('#map g.cloud-link.in-tree').evaluateAll(
    els => els.map(e => [e.dataset.a, e.dataset.b].sort().join('|')).sort());
  assert.deepEqual(tree, ['web-fra|web-iowa', 'web-fra|web-lis']);
  assert.equal(await page.getAttribute('#map g.cloud-links', 'data-layout'), 'mst');
  assert.equal(await page.isVisible('#problem'), false);
  await shot('map');
  await page.click('#tab-hosts');
  const fraHost = page.locator('#hosts article.host[data-name="web-fra-h1"]');
  await fraHost.waitFor();
  assert.match(await fraHost.textContent(), /web/);
  await shot('hosts');
});

test('a network shows its topology, live VM additions and errors', async () => {
  await page.click('#tab-networks');
  await page.click('button[data-net="red/red-prod"]');
  const topo = page.locator('#topology svg');
  await topo.waitFor();
  const names = async kind => (await topo.locator(`g.${kind}`).evaluateAll(
    els => els.map(e => e.getAttribute('data-name')))).sort();
  assert.deepEqual(await names('switch'), ['back', 'front', 'mgmt']);
  assert.deepEqual(await names('vm'), ['cache', 'db', 'ops', 'web']);
  assert.deepEqual(await names('link'), ['back--front', 'back--mgmt']);
  assert.equal(await topo.locator('g.switch[data-name="front"] text').textContent(), 'front');
  await shot('topology');

  // A VM created through the API appears without a reload.
  const t0 = Date.now();
  const vm = await api('POST', '/v1/tenants/red/networks/red-prod/vms',
    { name: 'api1', mac: '02:00:00:00:00:09', ip: '10.0.0.9', switch: 'back', placement: { cloud: 'web-iowa' } });
  // Liveness, not speed: the page polls once a second, so the VM shows
  // within a poll or two; the bound only keeps a broken page from hanging.
  await topo.locator('g.vm[data-name="api1"]').waitFor({ timeout: 15000 });
  console.log(`# new VM visible after ${Date.now() - t0} ms`);

  // An error written straight into the database shows with its detail.
  const t1 = Date.now();
  sql(`UPDATE vm SET state='error', detail='port down' WHERE id='${vm.id}'`);
  const bad = page.locator('#topology g.vm[data-name="api1"][data-state="error"]');
  await bad.waitFor({ timeout: 15000 });
  console.log(`# error visible after ${Date.now() - t1} ms`);
  assert.match(await bad.locator('title').textContent(), /detail: port down/);
  assert.match(await bad.textContent(), /port down/);
  assert.equal(await bad.locator('rect.vm-box').evaluate(e => getComputedStyle(e).stroke), 'rgb(180, 35, 24)');
  await shot('topology-error');

  // The table filters down to it.
  await page.click('#tab-table');
  await page.selectOption('#f-state', 'error');
  await page.fill('#f-text', 'port');
  const rows = page.locator('#table-body tr');
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().textContent(), /api1.*error.*port down/);
  await page.selectOption('#f-kind', 'cloud');
  assert.equal(await rows.count(), 0);
  await page.selectOption('#f-kind', '');
  await page.selectOption('#f-state', '');
  await page.fill('#f-text', '');
  await shot('table');
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('a tenant token sees only its tenant', async () => {
  await signIn(redToken, 'red');
  await page.waitForSelector('button[data-net="red/red-prod"]');
  await page.waitForSelector('#topology svg g.vm[data-name="api1"]');
  assert.equal(await page.locator('button[data-net^="blue/"]').count(), 0);
  assert.equal(await page.isVisible('#tab-map'), false);
  assert.equal(await page.locator('#map g.cloud').count(), 0);
  assert.match(await page.textContent('#whoami'), /tenant red/);
  await page.click('#tab-table');
  const where = await page.locator('#table-body tr').allTextContents();
  assert.ok(where.length > 0);
  assert.ok(where.every(r => !/blue/.test(r)), where.join('\n'));
  assert.equal(await page.locator('#table-body tr[data-kind="cloud"], #table-body tr[data-kind="host"]').count(), 0);
  await shot('tenant');
  await page.click('#signout');
  // The tenant's token cannot read another tenant: the API's 404 problem is shown.
  await signIn(redToken, 'blue');
  await page.waitForSelector('#problem:not([hidden])');
  assert.match(await page.textContent('#problem'), /404/);
  assert.equal(await page.isVisible('#app'), false);
});

test('no script error or CSP violation in the page', () => {
  assert.deepEqual(pageErrors, []);
});
