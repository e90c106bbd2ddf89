// lifecycle.test.mjs: a VM's detail panel in a real browser against a
// skyvisord whose reconciler drives real Open vSwitch.
//
// tools/cloudsim.py builds two clouds (wl1, wl2: a gateway and a host
// each, every host an Open vSwitch in its own namespace, every VM a
// namespace); skyvisord (reconciler on, embedded PostgreSQL) is given them
// and one tenant network through the REST API and realizes it.  Then the
// page, driven in Debian's chromium:
//   - a snapshot taken from the panel is captured and shows ready, with
//     its size and capture time;
//   - a live migration started from the panel (the VM's second NIC plugged
//     at the target first, as a hypervisor would) shows the phases the
//     reconciler moves it through, its route, timeline and counters as the
//     API reports them; rolled back from dual; then a second one, pinged
//     during dual and activated from the panel, shown through to done with
//     its packets duplicated and the VM at its new host;
//   - a VM stopped and started again from the panel;
//   - a snapshot of a VM whose host's switch is down shows the
//     reconciler's error detail.
// Needs root (namespaces), as the integration suites do.  Everything it
// started is stopped in after(), even on failure.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN, ARTIFACTS, apiClient, cloudsim, launchBrowser, signIn, startDaemon, tearDown,
  waitFor } from './harness.mjs';

const HOSTS = {
  wl1: [{ name: 'wl1-gw', tunnel_ip: '198.18.31.1', public_ip: '198.19.3.1' },
    { name: 'wl1-h1', tunnel_ip: '198.18.31.2' }],
  wl2: [{ name: 'wl2-gw', tunnel_ip: '198.18.32.1', public_ip: '198.19.3.2' },
    { name: 'wl2-h1', tunnel_ip: '198.18.32.2' }],
};
// name: [host, mac, ip, iface]
const VMS = { a: ['wl1-h1', '02:00:00:00:61:01', '10.61.0.1', 'wla'],
  b: ['wl2-h1', '02:00:00:00:61:02', '10.61.0.2', 'wlb'] };
const N = '/v1/tenants/red/networks/n';
const PREFIX = `svw${process.pid % 1000}`; // cloudsim's namespaces: PREFIX-h-HOST, PREFIX-v-VM

let tmp, simDir, simUp = false, daemon, log, base, api, browser, page, pageErrors;

// What cloudsim's Sim.host_body() declares for a simulated host.
function hostBody(h, cloud) {
  const d = path.join(simDir, h.name);
  const body = { name: h.name, cloud, tunnel_ip: h.tunnel_ip, ovsdb: `unix:${d}/db.sock`,
    datapath: 'netdev', openflow: `unix:${d}/br-sky.mgmt` };
  if (h.public_ip) Object.assign(body, { role: 'gateway', public_ip: h.public_ip });
  return body;
}

async function realized(name) {
  const s = (await api('GET', `${N}/vms/${name}`)).status;
  return s.state === 'realized' && s.observed_generation === s.generation;
}

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `lifecycle-${name}.png`), fullPage: true });
}

// What a cloud hypervisor does before moving VM 'vm': a second NIC in the
// VM's namespace (eth1, same MAC and IP) whose host end, named as the VM's
// iface, waits in 'host''s namespace for skyvisor to plug it when the
// migration clones the VM there (as tests/integration/test_migration.py).
function secondNic(vm, host) {
  const [, mac, ip, iface] = VMS[vm];
  const vns = `${PREFIX}-v-${vm}`.slice(0, 32), hns = `${PREFIX}-h-${host}`.slice(0, 32);
  const ipx = (...a) => execFileSync('ip', a, { stdio: 'pipe' });
  ipx('link', 'add', 'eth1', 'netns', vns, 'mtu', '1400', 'type', 'veth', 'peer', 'name', iface, 'netns', hns);
  ipx('-n', vns, 'link', 'set', 'eth1', 'address', mac);
  ipx('netns', 'exec', vns, 'sysctl', '-qw', 'net.ipv4.conf.eth1.rp_filter=0');
  ipx('-n', vns, 'addr', 'add', `${ip}/32`, 'dev', 'eth1');
  ipx('-n', vns, 'link', 'set', 'eth1', 'up');
  ipx('-n', hns, 'link', 'set', iface, 'up');
}

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'skyweb-lc-'));
  chmodSync(tmp, 0o711); // the embedded PostgreSQL runs as the postgres user
  simDir = path.join(tmp, 'sim');
  const spec = { prefix: PREFIX,
    clouds: Object.entries(HOSTS).map(([name, hosts]) => ({ name, hosts })),
    vms: Object.entries(VMS).map(([name, [host, mac, ip, iface]]) => ({ name, host, iface, mac, ip })) };
  writeFileSync(path.join(tmp, 'spec.json'), JSON.stringify(spec));
  simUp = true; // from here on, after() tears down whatever got built
  cloudsim('up', path.join(tmp, 'spec.json'), simDir);
  ({ daemon, base, log } = await startDaemon(tmp));
  api = apiClient(base);
  for (const [cloud, hosts] of Object.entries(HOSTS)) {
    await api('POST', '/v1/clouds', { name: cloud, provider: 'private', region: 'r1', jurisdiction: 'PT',
      kind: 'private' });
    for (const h of hosts) await api('POST', '/v1/hosts', hostBody(h, cloud));
  }
  await api('POST', '/v1/tenants', { name: 'red' });
  await api('POST', '/v1/tenants/red/networks', { name: 'n', subnet: '10.61.0.0/24', tagging: 'mac-prefix' });
  await api('POST', `${N}/switches`, { name: 's' });
  for (const [name, [host, mac, ip, iface]] of Object.entries(VMS)) {
    await api('POST', `${N}/vms`, { name, mac, ip, iface, switch: 's', placement: { host } });
  }
  for (const name of Object.keys(VMS)) await waitFor(`vm ${name} realized`, () => realized(name), 90000);
  ({ browser, page, pageErrors } = await launchBrowser(path.join(tmp, 'profile')));
});

after(() => tearDown({ browser, daemon, log, simDir: simUp ? simDir : null, tmp }));

test('a snapshot taken from the panel is captured and shows ready with its size', async () => {
  await page.goto(`${base}/ui/`);
  await signIn(page, ADMIN);
  await page.click('#tab-networks');
  await page.click('button[data-net="red/n"]');
  await page.click('button.vmbtn[data-vm="a"]');
  const detail = page.locator('#vm-detail[data-vm="a"]');
  await detail.waitFor();
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^wl1-h1 \(wl1\)$/);

  const t0 = Date.now();
  await page.fill('#snap-name', 'web-snap');
  await page.click('#snap-take');
  const row = detail.locator('#snap-body tr[data-name="web-snap"]');
  await row.waitFor();
  await detail.locator('#snap-body tr[data-name="web-snap"][data-state="ready"]').waitFor({ timeout: 60000 });
  console.log(`# snapshot ready on the page after ${Date.now() - t0} ms`);
  const snap = (await api('GET', `${N}/vms/a/snapshots`)).items.find(x => x.name === 'web-snap');
  assert.equal(snap.state, 'ready');
  assert.ok(snap.size_bytes > 0, JSON.stringify(snap));
  assert.equal(await row.locator('td[data-size]').getAttribute('data-size'), String(snap.size_bytes));
  assert.match(await row.locator('td[data-size]').textContent(), /\d (B|KiB|MiB)$/);
  assert.equal(await row.locator('td[title]').getAttribute('title'), snap.captured_at);
  assert.notEqual((await row.locator('td[title]').textContent()).trim(), '');
  await shot('snapshot');
});

test('a migration started from the panel shows each phase the reconciler reaches, rolls back, and completes', async () => {
  const detail = page.locator('#vm-detail[data-vm="a"]');
  const box = page.locator('#mig-panel');
  // The hypervisor's part: a second NIC of a, its host end (a's iface) on the target.
  secondNic('a', 'wl2-h1');

  await page.selectOption('#mig-kind', 'cloud');
  await page.fill('#mig-target', 'wl2');
  await page.click('#mig-start');
  const first = await waitFor('the migration', async () => (await api('GET', `${N}/vms/a/migrations`)).items[0]);
  assert.equal(first.from_host, 'wl1-h1');
  assert.equal(first.to_host, 'wl2-h1');
  // The reconciler clones a at the target and holds it in dual until activation.
  const phases = new Set();
  const dual = await waitFor('dual on the page', async () => {
    const p = await box.getAttribute('data-phase');
    if (p) phases.add(p);
    const m = await api('GET', `${N}/vms/a/migrations/${first.id}`);
    return p === 'dual' && m.phase === 'dual' && m;
  }, 60000);
  console.log(`# phases seen on the page on the way to dual: ${[...phases].join(' ')}`);
  assert.equal(await box.locator('[data-field="from_host"]').textContent(), 'wl1-h1');
  assert.equal(await box.locator('[data-field="to_host"]').textContent(), 'wl2-h1');
  // Every phase the API says was entered has its time on the timeline.
  assert.deepEqual(Object.keys(dual.phase_times).sort(), ['clone', 'dual', 'prepare']);
  for (const [phase, at] of Object.entries(dual.phase_times)) {
    assert.equal(await box.locator(`li[data-phase="${phase}"] .step-time`).getAttribute('title'), at, phase);
  }
  // Counters as the API reports them (they move while dual lasts).
  await waitFor('the counters shown as the API has them', async () => {
    const m = await api('GET', `${N}/vms/a/migrations/${first.id}`);
    const shown = await Promise.all(['duplicated', 'to_controller', 'flows_cloned'].map(
      f => box.locator(`[data-field="${f}"]`).textContent()));
    return shown.join() === [m.counters.duplicated, m.counters.to_controller, m.counters.flows_cloned].join();
  }, 15000);
  assert.ok(Number(await box.locator('[data-field="flows_cloned"]').textContent()) > 0);
  assert.match(await box.locator('.mig-text').textContent(), /VM now at wl1-h1, its traffic copied to wl2-h1/);
  assert.equal(await page.isDisabled('#mig-start'), true);
  await shot('migration-dual');

  // Roll back from dual: the reconciler takes the clone away, the VM never left.
  await box.locator('button[data-action="rollback"]').click();
  const rolled = page.locator('#mig-panel[data-phase="rolled-back"]');
  await rolled.waitFor({ timeout: 60000 });
  assert.equal(await detail.locator('.vm-problem').isVisible(), false);
  const back = await api('GET', `${N}/vms/a/migrations/${first.id}`);
  assert.equal(back.phase, 'rolled-back');
  assert.notEqual(back.rollback_requested_at, null);
  assert.equal(await rolled.locator('[data-field="detail"]').textContent(), back.detail);
  const steps = await rolled.locator('ol.timeline li').evaluateAll(els => els.map(e => e.dataset.phase));
  assert.deepEqual(steps, ['prepare', 'clone', 'dual', 'rolled-back']);
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^wl1-h1/);
  await waitFor('the form enabled again', async () => !(await page.isDisabled('#mig-start')), 15000);
  await shot('rollback');

  // Again, to the host, activated from the panel, through to done.
  await page.selectOption('#mig-kind', 'host');
  await page.fill('#mig-target', 'wl2-h1');
  await page.click('#mig-start');
  const second = await waitFor('the second migration', async () =>
    (await api('GET', `${N}/vms/a/migrations`)).items.find(x => x.id !== first.id));
  await page.locator('#mig-panel[data-phase="dual"] button[data-action="activate"]').waitFor({ timeout: 60000 });
  // Traffic to a while both places receive it: b pings it (a's MAC known to
  // b beforehand, so no ARP reply leaves a's new NIC and activates it early).
  const vnsB = `${PREFIX}-v-b`.slice(0, 32);
  execFileSync('ip', ['-n', vnsB, 'neigh', 'replace', VMS.a[2], 'lladdr', VMS.a[1], 'dev', 'eth0']);
  execFileSync('ip', ['netns', 'exec', vnsB, 'ping', '-q', '-c', '20', '-i', '0.05', '-W', '1', VMS.a[2]],
    { stdio: 'pipe' });
  assert.equal(await box.getAttribute('data-phase'), 'dual');
  await page.click('#mig-panel button[data-action="activate"]');
  const seen = new Set();
  await waitFor('done on the page', async () => {
    const p = await box.getAttribute('data-phase');
    if (p) seen.add(p);
    return p === 'done' || p === 'failed' || p === 'rolled-back';
  }, 120000);
  console.log(`# phases seen on the page after activation: ${[...seen].join(' ')}`);
  const done = await api('GET', `${N}/vms/a/migrations/${second.id}`);
  assert.equal(done.phase, 'done', JSON.stringify(done));
  assert.equal(await box.getAttribute('data-phase'), 'done');
  assert.deepEqual(await box.locator('ol.timeline li').evaluateAll(els => els.map(e => e.className)),
    ['step past', 'step past', 'step past', 'step past', 'step past', 'step current']);
  for (const [phase, at] of Object.entries(done.phase_times)) {
    assert.equal(await box.locator(`li[data-phase="${phase}"] .step-time`).getAttribute('title'), at, phase);
  }
  for (const f of ['duplicated', 'to_controller', 'flows_cloned']) {
    assert.equal(await box.locator(`[data-field="${f}"]`).textContent(), String(done.counters[f]), f);
  }
  console.log(`# migration done: ${JSON.stringify(done.counters)}`);
  assert.ok(done.counters.duplicated > 0, JSON.stringify(done.counters));
  await waitFor('the VM shown at its new host', async () =>
    /^wl2-h1 \(wl2\)$/.test(await detail.locator('[data-field="host"]').textContent()), 15000);
  assert.equal(await detail.locator('.mig-older li[data-phase="rolled-back"]').count(), 1);
  // The form follows the VM's own view, which may be a poll behind the migration list.
  await waitFor('the form enabled after done', async () => !(await page.isDisabled('#mig-start')), 15000);
  await shot('migration-done');
});

test('stop and start from the panel: the stop snapshot is captured, the VM comes back realized', async () => {
  await page.click('button.vmbtn[data-vm="b"]');
  const detail = page.locator('#vm-detail[data-vm="b"]');
  await detail.waitFor();
  await detail.locator('button[data-action="stop"]').click();
  await detail.locator('[data-field="power"]', { hasText: 'stopped' }).waitFor({ timeout: 15000 });
  const vm = await api('GET', `${N}/vms/b`);
  assert.equal(vm.power, 'stopped');
  const stopSnap = (await api('GET', `${N}/vms/b/snapshots`)).items.find(x => x.id === vm.power_snapshot);
  assert.equal(stopSnap.reason, 'stop');
  const row = detail.locator(`#snap-body tr[data-name="${stopSnap.name}"]`);
  await detail.locator(`#snap-body tr[data-name="${stopSnap.name}"][data-state="ready"]`).waitFor({ timeout: 60000 });
  assert.match(await row.textContent(), /\(stop\)/);
  // A stopped VM has nothing to capture and does not migrate: the API's 409 shows.
  await page.fill('#snap-name', 'while-stopped');
  await page.click('#snap-take');
  await detail.locator('.vm-problem', { hasText: 'HTTP 409' }).waitFor();
  assert.match(await detail.locator('.vm-problem').textContent(), /is stopped/);
  assert.equal(await page.isDisabled('#mig-start'), true);
  await shot('stopped');

  // Start from the stop's snapshot, chosen by name.
  await page.selectOption('#start-from', stopSnap.name);
  await detail.locator('button[data-action="start"]').click();
  await detail.locator('[data-field="power"]', { hasText: 'running' }).waitFor({ timeout: 15000 });
  assert.equal(await detail.locator('.vm-problem').isVisible(), false);
  await waitFor('vm b realized again', () => realized('b'), 90000);
  await page.locator('button.vmbtn[data-vm="b"] .dot.state-realized').waitFor({ timeout: 15000 });
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^wl2-h1/);
});

test("a snapshot of a VM whose host's switch is down shows the reconciler's error", async () => {
  // The last scenario: wl2-h1's ovs-vswitchd killed as a crash would (cloudsim's own
  // pid file; cloudsim down cleans up after it).
  const pid = Number(readFileSync(path.join(simDir, 'wl2-h1', 'ovs-vswitchd.pid'), 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  const detail = page.locator('#vm-detail[data-vm="b"]');
  await page.fill('#snap-name', 'switch-down');
  await page.click('#snap-take');
  const row = detail.locator('#snap-body tr[data-name="switch-down"][data-state="error"]');
  await row.waitFor({ timeout: 60000 });
  const snap = (await api('GET', `${N}/vms/b/snapshots`)).items.find(x => x.name === 'switch-down');
  assert.equal(snap.state, 'error');
  assert.equal(await row.locator('td.detail').textContent(), snap.detail);
  assert.match(snap.detail, /wl2-h1/);
  assert.equal(await row.locator('td[data-size]').getAttribute('data-size'), '');
  await shot('snapshot-error');
});

test('no script error or CSP violation in the page', () => {
  assert.deepEqual(pageErrors, []);
});
