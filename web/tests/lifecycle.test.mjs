// lifecycle.test.mjs: a VM's detail panel in a real browser against a
// skyvisord whose reconciler drives real Open vSwitch.
//
// tools/cloudsim.py builds two clouds (wl1, wl2: a gateway and a host
// each, every host an Open vSwitch in its own namespace, every VM a
// namespace); skyvisord (reconciler on, embedded PostgreSQL) is given them
// and one tenant network through the REST API and realizes it.  Then the
// page, driven in Debian's chromium: a snapshot taken from the panel is
// captured by the reconciler and shows ready with its size and capture
// time; a live migration started from the panel shows its phase, route and
// counters as the API reports them, and its rollback; a VM stopped and
// started again from the panel; a snapshot of a VM whose host's switch is
// down shows the reconciler's error detail.  The
// migration's later phases are shown only when the reconciler moves them:
// the test follows whatever phase the API reports, and when the rollback
// is realized (rolled-back) it runs a second migration to done.
// Needs root (namespaces), as the integration suites do.  Everything it
// started is stopped in after(), even on failure.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN, ARTIFACTS, ROOT, apiClient, launchBrowser, signIn, sleep, startDaemon, stopDaemon,
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
const CLOUDSIM = path.join(ROOT, 'tools', 'cloudsim.py');

let tmp, simDir, simUp = false, daemon, log, base, api, browser, page, pageErrors;

function cloudsim(...args) {
  return execFileSync('python3', [CLOUDSIM, ...args], { stdio: 'pipe', timeout: 180000 }).toString();
}

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

// The panel's migration box once it shows the API's current phase of migration id.
async function showsPhaseOf(id) {
  const m = await api('GET', `${N}/vms/a/migrations/${id}`);
  const box = page.locator(`#mig-panel[data-phase="${m.phase}"]`);
  await box.waitFor({ timeout: 15000 });
  return { m, box };
}

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'skyweb-lc-'));
  chmodSync(tmp, 0o711); // the embedded PostgreSQL runs as the postgres user
  simDir = path.join(tmp, 'sim');
  const spec = { prefix: `svw${process.pid % 1000}`,
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

after(async () => {
  if (browser) await browser.close().catch(() => {});
  const rc = await stopDaemon(daemon);
  if (rc !== 0 && log) console.log(log().split('\n').filter(l => !l.includes(' http')).slice(-200).join('\n'));
  if (simUp) {
    try { cloudsim('down', simDir); } catch (e) { console.log(`cloudsim down: ${e.message}`); }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

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

test('a migration started from the panel shows its phase, route and counters, and rolls back', async () => {
  const detail = page.locator('#vm-detail[data-vm="a"]');
  await page.selectOption('#mig-kind', 'cloud');
  await page.fill('#mig-target', 'wl2');
  await page.click('#mig-start');
  const first = await waitFor('the migration', async () => (await api('GET', `${N}/vms/a/migrations`)).items[0]);
  assert.equal(first.from_host, 'wl1-h1');
  assert.equal(first.to_host, 'wl2-h1');
  const { m, box } = await showsPhaseOf(first.id);
  console.log(`# migration ${m.id}: phase ${m.phase} when the page first showed it`);
  assert.equal(await box.locator('[data-field="from_host"]').textContent(), 'wl1-h1');
  assert.equal(await box.locator('[data-field="to_host"]').textContent(), 'wl2-h1');
  assert.equal(await box.locator('[data-field="phase"]').textContent(), m.phase);
  for (const f of ['duplicated', 'to_controller', 'flows_cloned']) {
    assert.match(await box.locator(`[data-field="${f}"]`).textContent(), /^\d+$/, f);
  }
  // Every phase the API says was entered has its time on the timeline.
  for (const [phase, at] of Object.entries(m.phase_times)) {
    assert.equal(await box.locator(`li[data-phase="${phase}"] .step-time`).getAttribute('title'), at, phase);
  }
  assert.equal(await page.isDisabled('#mig-start'), true);
  await shot('migration');

  // Roll back while the phase allows it (before activate).
  const rb = box.locator('button[data-action="rollback"]');
  assert.equal(await rb.count(), 1, `no Roll back button in phase ${m.phase}`);
  await rb.click();
  await page.locator('#mig-panel [data-field="notes"]', { hasText: 'Rollback asked at' })
    .or(page.locator('#mig-panel[data-phase="rolled-back"]')).first().waitFor();
  assert.equal(await detail.locator('.vm-problem').isVisible(), false);
  const asked = await api('GET', `${N}/vms/a/migrations/${m.id}`);
  assert.notEqual(asked.rollback_requested_at, null);
  // The reconciler realizes the rollback when it runs migrations: give it
  // time, then the page must show whatever phase the API reports.
  let now = asked;
  for (let i = 0; i < 40 && now.phase !== 'rolled-back'; i++) {
    await sleep(500);
    now = await api('GET', `${N}/vms/a/migrations/${m.id}`);
  }
  const shown = await showsPhaseOf(m.id);
  console.log(`# after the rollback request: phase ${shown.m.phase}`);
  await shot('rollback');
  if (shown.m.phase !== 'rolled-back') {
    // Not realized by this reconciler: the request stays visible, not offered again.
    assert.equal(await shown.box.locator('button[data-action="rollback"]').isDisabled(), true);
    return;
  }
  // Rolled back: the timeline ends there, the VM never left its host, the form is back.
  const steps = await shown.box.locator('ol.timeline li').evaluateAll(els => els.map(e => e.dataset.phase));
  assert.equal(steps.at(-1), 'rolled-back');
  assert.match(await detail.locator('[data-field="host"]').textContent(), /^wl1-h1/);
  await waitFor('the form enabled again', async () => !(await page.isDisabled('#mig-start')), 15000);

  // A full migration, activated from the panel, to done.
  await page.selectOption('#mig-kind', 'host');
  await page.fill('#mig-target', 'wl2-h1');
  await page.click('#mig-start');
  const second = await waitFor('the second migration', async () =>
    (await api('GET', `${N}/vms/a/migrations`)).items.find(x => x.id !== m.id));
  await page.locator('#mig-panel button[data-action="activate"]').click();
  await page.locator('#mig-panel[data-phase="done"]').waitFor({ timeout: 120000 });
  const done = await api('GET', `${N}/vms/a/migrations/${second.id}`);
  assert.equal(done.phase, 'done');
  const box2 = page.locator('#mig-panel');
  const seen = await box2.locator('ol.timeline li').evaluateAll(els => els.map(e => e.dataset.phase));
  assert.deepEqual(seen, ['prepare', 'clone', 'dual', 'activate', 'cleanup', 'done']);
  assert.equal(await box2.locator('[data-field="duplicated"]').textContent(), String(done.counters.duplicated));
  assert.equal(await box2.locator('[data-field="flows_cloned"]').textContent(), String(done.counters.flows_cloned));
  await waitFor('the VM shown at its new host', async () =>
    /^wl2-h1/.test(await detail.locator('[data-field="host"]').textContent()), 15000);
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
