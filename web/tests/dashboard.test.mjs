// dashboard.test.mjs: the skyvisor dashboard in a real browser.
//
// Starts its own skyvisord (embedded PostgreSQL in a temp --data-dir, random
// free loopback port, SKYVISOR_ADMIN_TOKEN set; binary from $SKYVISOR_BUILD
// or ./build), declares a small demo through the REST API, then drives
// Debian's /usr/bin/chromium with playwright-core (fresh profile) through
// sign-in, map, topology, live updates, an error injected with psql on the
// embedded cluster's unix socket, a tenant sign-in, a wrong token, a
// VM's detail panel (a snapshot, a migration and its rollback, as far as
// the API alone takes them: this skyvisord runs no reconciler), and the
// Instances view: the instance and the cloud leases it holds (its lease
// keeper runs without a reconciler too), then a second instance on the same
// database showing the first one stale and its leases expired while it is
// paused (SIGSTOP), and taken again with new epochs once it runs on; a
// network's switches with their tenant controllers, edited from the page
// (controller_allow by the admin), and a realized VM's note.
// Helpers in harness.mjs.  Screenshots go to build/test-artifacts/dashboard-*.png.  Everything it
// started is stopped in after(), even on failure.
//
// Run: tools/web-test   (or: node --test web/tests/ from the repo root)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN, ARTIFACTS, apiClient, dbOf, launchBrowser, signIn as signInAs, sql as psql,
  startDaemon, stopDaemon, waitFor } from './harness.mjs';

let tmp, daemon, base, api, browser, page, pageErrors, redToken, second;

const sql = statement => psql(tmp, statement);
const signIn = (token, tenant) => signInAs(page, token, tenant);

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'skyweb-'));
  chmodSync(tmp, 0o711); // the embedded PostgreSQL runs as the postgres user
  ({ daemon, base } = await startDaemon(tmp, ['--no-reconciler']));
  api = apiClient(base);

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

  ({ browser, page, pageErrors } = await launchBrowser(path.join(tmp, 'profile')));
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (second) await stopDaemon(second.daemon);
  await stopDaemon(daemon);
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
  // fra-lis (3) and fra-iowa (10); iowa-lis (12) is the backup tunnel
  // (the default layout, mst+backup).
  await page.waitForSelector('#map g.cloud-links[data-tunnels="2"][data-backups="1"]');
  const pairs = sel => page.locator(sel).evaluateAll(
    els => els.map(e => [e.dataset.a, e.dataset.b].sort().join('|')).sort());
  assert.deepEqual(await pairs('#map g.cloud-link.in-tree'), ['web-fra|web-iowa', 'web-fra|web-lis']);
  assert.deepEqual(await pairs('#map g.cloud-link.backup'), ['web-iowa|web-lis']);
  assert.match(await page.textContent('#map g.cloud-link.backup title'), /backup tunnel/);
  assert.equal(await page.getAttribute('#map g.cloud-links', 'data-layout'), 'mst+backup');
  assert.equal(await page.isVisible('#problem'), false);
  await shot('map');
  await page.click('#tab-hosts');
  const fraHost = page.locator('#hosts article.host[data-name="web-fra-h1"]');
  await fraHost.waitFor();
  assert.match(await fraHost.textContent(), /web/);
  await shot('hosts');
});

const CLOUDS = ['web-fra', 'web-iowa', 'web-lis'];

// The API's leases by cloud once every demo cloud is held (not expired) by
// the instance at 'addr'; null otherwise.
async function heldBy(addr, client = api) {
  const doc = await client('GET', '/v1/instances');
  const inst = doc.instances.find(i => i.api_address === addr);
  const leases = new Map(doc.leases.map(l => [l.cloud, l]));
  const ok = inst && CLOUDS.every(c => leases.has(c) && !leases.get(c).expired && leases.get(c).holder === inst.id);
  return ok ? { doc, inst, leases } : null;
}

test('the instances view shows the running instance and the clouds it owns', async () => {
  const addr = new URL(base).host;
  // Its lease keeper took each cloud within a heartbeat of its creation.
  const { inst } = await waitFor('the instance to hold the three clouds', () => heldBy(addr));
  assert.equal(await page.isVisible('#tab-instances'), true);
  await page.click('#tab-instances');
  const card = page.locator(`#instances article.instance[data-id="${inst.id}"]`);
  await card.waitFor();
  assert.equal(await card.getAttribute('data-alive'), 'true');
  assert.equal(await card.locator('[data-field="alive"]').textContent(), 'alive');
  assert.equal(await card.locator('[data-field="api_address"]').textContent(), addr);
  assert.equal(await card.locator('[data-field="openflow_address"]').textContent(), 'none');
  assert.equal(await card.locator('.badge.self').textContent(), 'this API');
  assert.equal(await page.locator('#instances article.instance').count(), 1);
  // Wait for a refresh after the lookup below, so both describe the same leases.
  const { leases } = await heldBy(addr);
  for (const c of CLOUDS) {
    const row = page.locator(`#owners tr[data-cloud="${c}"][data-lease="held"][data-holder="${inst.id}"]`);
    await row.waitFor();
    assert.equal(await row.locator('[data-field="epoch"]').textContent(), String(leases.get(c).epoch), c);
    const owner = await row.locator('[data-field="owner"]').textContent();
    assert.ok(owner.startsWith(inst.name) && owner.includes(addr), owner);
    assert.equal(await card.locator(`table.leases tr[data-cloud="${c}"][data-lease="held"] [data-field="epoch"]`)
      .textContent(), String(leases.get(c).epoch), c);
  }
  assert.match(await page.textContent('#inst-summary'), /^1 instance, 1 alive · 3 of 3 clouds owned · answered by /);
  // The heartbeat moves: the view is refetched every two seconds.
  const hb = await card.locator('[data-field="heartbeat_at"] time').getAttribute('datetime');
  await waitFor('a newer heartbeat on the page', async () =>
    await card.locator('[data-field="heartbeat_at"] time').getAttribute('datetime') !== hb, 15000);
  assert.equal(await page.isVisible('#problem'), false);
  await shot('instances');
  // The clouds view names each cloud's owner.
  await page.click('#tab-map');
  for (const c of CLOUDS) {
    const g = page.locator(`#map g.cloud[data-name="${c}"]`);
    assert.equal(await g.getAttribute('data-owner'), inst.id, c);
    assert.equal(await g.getAttribute('data-lease'), 'held', c);
    assert.equal(await g.getAttribute('data-epoch'), String(leases.get(c).epoch), c);
    assert.equal(await g.locator('text.owner-label').textContent(), `▸ ${addr}`);
    const title = await g.locator(':scope > title').textContent();
    assert.ok(title.includes(`owned by ${inst.name}, epoch ${leases.get(c).epoch}`), title);
  }
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
  // Instances are the operators' business: the API refuses a tenant, and the
  // page offers no such view (and shows no problem for it).
  const refused = await fetch(`${base}/v1/instances`, { headers: { Authorization: `Bearer ${redToken}` } });
  assert.equal(refused.status, 403);
  assert.equal(await page.isVisible('#tab-instances'), false);
  assert.equal(await page.locator('#instances article.instance').count(), 0);
  assert.equal(await page.isVisible('#problem'), false);
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

test('a VM detail panel takes a snapshot, starts a migration and rolls it back', async () => {
  // This skyvisord runs no reconciler: a snapshot stays pending and a
  // migration in prepare, the states the API alone reaches
  // (web/tests/lifecycle.test.mjs drives the same panel against a
  // reconciler and real Open vSwitch).
  await page.goto(`${base}/ui/`);
  await signIn(ADMIN);
  await page.click('#tab-networks');
  await page.click('button[data-net="red/red-prod"]');
  await page.locator('#topology g.vm[data-name="web"] rect.vm-box').click();
  const detail = page.locator('#vm-detail[data-vm="web"]');
  await detail.waitFor();
  assert.equal(await page.getAttribute('button.vmbtn[data-vm="web"]', 'aria-pressed'), 'true');
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^web-fra-h1 \(web-fra\)$/);
  assert.equal(await detail.locator('[data-field="power"]').textContent(), 'running');
  await detail.locator('#mig-panel', { hasText: 'No migration yet.' }).waitFor();

  // A snapshot: 202, pending, listed with no size or capture time yet.
  await page.fill('#snap-name', 'before-move');
  await page.click('#snap-take');
  const snap = detail.locator('#snap-body tr[data-name="before-move"]');
  await snap.waitFor();
  assert.equal(await snap.getAttribute('data-state'), 'pending');
  assert.equal(await snap.locator('td[data-size]').getAttribute('data-size'), '');
  const [row] = await api('GET', '/v1/tenants/red/networks/red-prod/vms/web/snapshots').then(r => r.items);
  assert.equal(row.name, 'before-move');
  assert.equal(row.state, 'pending');
  // The same name again: the API's 409 problem shows in the panel.
  await page.fill('#snap-name', 'before-move');
  await page.click('#snap-take');
  const problem = detail.locator('.vm-problem');
  await problem.waitFor();
  assert.match(await problem.textContent(), /\(HTTP 409\)/);
  await shot('vm-snapshot');

  // A migration to the VM's own host is refused with a problem naming why.
  await page.selectOption('#mig-kind', 'host');
  await page.fill('#mig-target', 'web-fra-h1');
  await page.click('#mig-start');
  await problem.locator('text=HTTP 409').waitFor();
  assert.match(await problem.textContent(), /own host/);

  // To another cloud: 202, phase prepare, from -> to, counters at zero.
  await page.selectOption('#mig-kind', 'cloud');
  await page.fill('#mig-target', 'web-lis');
  await page.click('#mig-start');
  const mig = detail.locator('#mig-panel[data-phase="prepare"]');
  await mig.waitFor();
  assert.equal(await problem.isVisible(), false);
  const [m] = await api('GET', '/v1/tenants/red/networks/red-prod/vms/web/migrations').then(r => r.items);
  assert.equal(m.phase, 'prepare');
  assert.equal(m.to_host, 'web-lis-h1');
  assert.equal(await mig.locator('[data-field="from_host"]').textContent(), 'web-fra-h1');
  assert.equal(await mig.locator('[data-field="to_host"]').textContent(), 'web-lis-h1');
  assert.equal(await mig.locator('[data-field="phase"]').textContent(), 'prepare');
  for (const f of ['duplicated', 'to_controller', 'flows_cloned']) {
    assert.equal(await mig.locator(`[data-field="${f}"]`).textContent(), '0', f);
  }
  // The timeline: prepare is the current step, with its time; the rest is ahead.
  const steps = await mig.locator('ol.timeline li').evaluateAll(
    els => els.map(e => `${e.dataset.phase}:${e.classList.contains('current') ? 'current' : e.classList.contains('todo') ? 'todo' : 'past'}`));
  assert.deepEqual(steps, ['prepare:current', 'clone:todo', 'dual:todo', 'activate:todo', 'cleanup:todo', 'done:todo']);
  assert.notEqual(await mig.locator('li[data-phase="prepare"] .step-time').getAttribute('title'), '');
  // The VM is still at its source; the picker and the form know it migrates.
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^web-fra-h1/);
  await page.locator('button.vmbtn[data-vm="web"] .badge.phase-prepare').waitFor();
  assert.equal(await page.isDisabled('#mig-start'), true);
  assert.doesNotMatch(await detail.textContent(), /null|undefined|NaN/);
  await shot('vm-migration');

  // Roll back: DELETE answers 202; the page shows the request and stops offering it.
  await mig.locator('button[data-action="rollback"]').click();
  await mig.locator('[data-field="notes"]', { hasText: 'Rollback asked at' }).waitFor();
  assert.equal(await mig.locator('button[data-action="rollback"]').isDisabled(), true);
  assert.equal(await mig.locator('button[data-action="activate"]').count(), 0);
  const back = await api('GET', `/v1/tenants/red/networks/red-prod/vms/web/migrations/${m.id}`);
  assert.notEqual(back.rollback_requested_at, null);
  assert.equal(await problem.isVisible(), false);
  await shot('vm-rollback');
  // The hosts view shows the VM migrating from its host.
  await page.click('#tab-hosts');
  assert.equal(await page.locator('#hosts article.host[data-name="web-fra-h1"] li[data-vm="web"] .badge')
    .textContent(), 'prepare → web-lis-h1');
  await page.click('#signout');
});

test("a tenant token works its own VM's panel", async () => {
  await signIn(redToken, 'red');
  await page.click('#tab-networks');
  await page.click('button.vmbtn[data-vm="cache"]');
  const detail = page.locator('#vm-detail[data-vm="cache"]');
  await detail.waitFor();
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^web-iowa-h1 \(web-iowa\)$/);
  await page.click('#snap-take');
  await detail.locator('#snap-body tr[data-state="pending"]').waitFor();
  const snaps = await api('GET', '/v1/tenants/red/networks/red-prod/vms/cache/snapshots', undefined, redToken);
  assert.equal(snaps.items.length, 1);
  assert.match(snaps.items[0].name, /^snap-/);
  assert.equal(await detail.locator(`#snap-body tr[data-name="${snaps.items[0].name}"]`).count(), 1);
  // A tenant does not list hosts: the target is typed; a wrong one is the
  // API's 400 problem, its detail and the failing field shown.
  await page.fill('#mig-target', 'no-such-host');
  await page.click('#mig-start');
  await detail.locator('.vm-problem:not([hidden])').waitFor();
  assert.match(await detail.locator('.vm-problem').textContent(), /\(HTTP 400\) no host 'no-such-host' · field host$/);
  await shot('tenant-panel');
  await page.click('#signout');
});

test('a second instance shows the first one stale and its leases expired while it is paused', async () => {
  const addr = new URL(base).host;
  const before = await waitFor('the first instance to hold the three clouds', () => heldBy(addr));
  // The second instance, on the same database, heartbeats and looks at the
  // leases only every five minutes: while the first is paused nobody takes
  // its clouds, so their leases stay expired for the page to show.
  second = await startDaemon(tmp, ['--no-reconciler', '--lease-ms', '600000', '--heartbeat-ms', '300000'],
    { db: dbOf(tmp) });
  const addr2 = new URL(second.base).host;
  await page.goto(`${second.base}/ui/`);
  await signIn(ADMIN);
  await page.click('#tab-instances');
  const first = page.locator(`#instances article.instance[data-api="${addr}"]`);
  const other = page.locator(`#instances article.instance[data-api="${addr2}"]`);
  await first.locator('[data-field="alive"]', { hasText: 'alive' }).waitFor();
  await other.locator('.badge.self').waitFor();
  assert.match(await other.textContent(), /holds no lease/);
  assert.equal(await page.locator('#instances article.instance').count(), 2);

  daemon.kill('SIGSTOP');
  try {
    // Within its lease (3 s) the first one's heartbeat is stale and its leases expired.
    await page.locator(`#instances article.instance.is-stale[data-api="${addr}"]`).waitFor({ timeout: 20000 });
    assert.equal(await first.locator('[data-field="alive"]').textContent(), 'stale heartbeat');
    for (const c of CLOUDS) {
      const row = page.locator(`#owners tr[data-cloud="${c}"][data-lease="expired"]`);
      await row.waitFor({ timeout: 20000 });
      assert.equal(await row.getAttribute('data-holder'), before.inst.id);
      assert.equal(await row.locator('.badge.lease-expired').textContent(), 'expired');
      assert.equal(await row.locator('.badge.stale').textContent(), 'stale');
      assert.equal(await row.locator('[data-field="epoch"]').textContent(), String(before.leases.get(c).epoch));
      await first.locator(`table.leases tr[data-cloud="${c}"][data-lease="expired"]`).waitFor();
    }
    assert.match(await page.textContent('#inst-summary'), /^2 instances, 1 alive · 0 of 3 clouds owned, 3 leases expired/);
    assert.equal(await page.isVisible('#problem'), false);
    await shot('instances-stale');
    await page.click('#tab-map');
    for (const c of CLOUDS) {
      const g = page.locator(`#map g.cloud[data-name="${c}"][data-lease="expired"]`);
      await g.waitFor();
      assert.equal(await g.locator('text.owner-label').textContent(), '▸ lease expired');
      assert.match(await g.locator(':scope > title').textContent(), /lease expired \(last held by /);
    }
    await shot('map-expired');
  } finally {
    daemon.kill('SIGCONT');
  }
  // Running again, it finds its leases gone and acquires them anew, each
  // with a higher epoch.
  await page.click('#tab-instances');
  await first.locator('[data-field="alive"]', { hasText: 'alive' }).waitFor({ timeout: 20000 });
  const after = await waitFor('the first instance to hold the three clouds again', () => heldBy(addr));
  for (const c of CLOUDS) {
    assert.ok(after.leases.get(c).epoch > before.leases.get(c).epoch, c);
    await page.locator(`#owners tr[data-cloud="${c}"][data-lease="held"][data-holder="${before.inst.id}"]`).waitFor();
  }
  assert.equal(await page.isVisible('#problem'), false);
  await page.click('#signout');
  await stopDaemon(second.daemon);
  second = null;
});

test("a network's switches show their tenant controllers, editable as the API allows", async () => {
  await page.goto(`${base}/ui/`);
  await signIn(ADMIN);
  await page.click('#tab-networks');
  await page.click('button[data-net="red/red-prod"]');
  const panel = page.locator('#controllers .ctl-panel[data-net="red/red-prod"]');
  await panel.waitFor();
  const front = panel.locator('li.ctl-switch[data-switch="front"]');
  assert.match(await front.locator('.ctl-now').textContent(), /no controller/);
  assert.match(await panel.locator('.ctl-allow-now').textContent(), /none/);
  // The admin allows a prefix, then the switch names a controller in it.
  await panel.locator('input.ctl-allow-input').fill('10.9.0.0/16, 192.0.2.0/24');
  await panel.locator('form.ctl-allow-form button').click();
  await panel.locator('.ctl-allow-now[data-allow="10.9.0.0/16,192.0.2.0/24"]').waitFor({ timeout: 15000 });
  assert.deepEqual((await api('GET', '/v1/tenants/red')).controller_allow, ['10.9.0.0/16', '192.0.2.0/24']);
  await front.locator('input.ctl-input').fill('tcp:10.9.0.5:6653');
  await front.locator('select.ctl-mode').selectOption('standalone');
  await front.locator('form button').click();
  await panel.locator('li.ctl-switch[data-switch="front"][data-controller="tcp:10.9.0.5:6653"]'
    + '[data-fail-mode="standalone"]').waitFor({ timeout: 15000 });
  assert.match(await front.locator('.ctl-now').textContent(), /controller tcp:10\.9\.0\.5:6653, fail mode standalone/);
  const sw = await api('GET', '/v1/tenants/red/networks/red-prod/switches/front');
  assert.equal(sw.controller, 'tcp:10.9.0.5:6653');
  assert.equal(sw.fail_mode, 'standalone');
  // An address outside controller_allow: the API's refusal, in the panel.
  await front.locator('input.ctl-input').fill('tcp:198.51.100.7:6653');
  await front.locator('form button').click();
  const alert = panel.locator('.ctl-alert:not([hidden])');
  await alert.waitFor({ timeout: 15000 });
  assert.match(await alert.textContent(), /422/);
  assert.equal((await api('GET', '/v1/tenants/red/networks/red-prod/switches/front')).controller, 'tcp:10.9.0.5:6653');
  // A list that would strand front's controller: 409.
  await panel.locator('input.ctl-allow-input').fill('192.0.2.0/24');
  await panel.locator('form.ctl-allow-form button').click();
  // A locator, not page.waitForFunction: the page's CSP (script-src 'self')
  // refuses the eval Playwright's polling of a function falls back to.
  await page.locator('#controllers .ctl-alert', { hasText: '409' }).first().waitFor({ timeout: 15000 });
  await shot('controllers');
  // A realized VM's note (a down tunnel's detour) shows under it.
  sql("UPDATE vm SET detail='path to cloud web-lis via backup: tunnel web-fra-gw--web-lis-gw down' " +
      "WHERE name='cache' AND state='realized' AND network_id=(SELECT id FROM network WHERE name='red-prod')");
  const note = page.locator('#topology g.vm[data-name="cache"] text.node-note');
  await note.waitFor({ timeout: 15000 });
  assert.match(await note.textContent(), /^path to cloud web-lis via backup/);
  await page.click('#signout');
  // A tenant sees its list but cannot change it; its switch's form works.
  await signIn(redToken, 'red');
  await page.click('#tab-networks');
  await page.click('button[data-net="red/red-prod"]');
  await panel.waitFor();
  assert.equal(await panel.locator('form.ctl-allow-form').count(), 0);
  assert.match(await panel.locator('.ctl-allow-now').textContent(), /10\.9\.0\.0\/16/);
  await front.locator('input.ctl-input').fill('');
  await front.locator('form button').click();
  await panel.locator('li.ctl-switch[data-switch="front"][data-controller=""]').waitFor({ timeout: 15000 });
  assert.equal((await api('GET', '/v1/tenants/red/networks/red-prod/switches/front')).controller, null);
  await page.click('#signout');
});

test('no script error or CSP violation in the page', () => {
  assert.deepEqual(pageErrors, []);
});
