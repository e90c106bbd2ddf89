// wan.test.mjs: a cut inter-cloud tunnel as the dashboard shows it, in a
// real browser against a skyvisord whose reconciler drives real Open
// vSwitch.
//
// tools/cloudsim.py builds three clouds (ww1 with two gateways, ww1-gw and
// its twin ww1-gw2, ww2 and ww3 with one; every host an Open vSwitch in its
// own namespace, the gateways' public addresses on one WAN); the costs make
// the tree ww1 - ww2 - ww3 and the backup ww1 - ww3 (mst+backup, BFD at
// 100 ms), so the pair ww1 - ww2 has two tunnels.  Red has a VM on ww1-gw
// and one on ww3.  The tunnels to ww2-gw are cut below Open vSwitch (drop
// flows on the gateway's underlay bridge br-wan, the carrier stays up), one
// and then both, and the page must show:
//   - on the clouds map, the pair dashed red (class degraded, "1 of 2
//     tunnels DOWN") while the twin's tunnel runs, then red (class down)
//     with DOWN in its hover text, the backup still dotted, and the failover
//     count risen;
//   - in the network's drawing, r1's note naming the tunnel its traffic
//     detours (r1 is on ww1-gw, whose own tunnel is the first one cut);
// and once the drop flows go, the pair drawn as before, the recoveries
// counted and the note gone.  Needs root (namespaces), as the integration suites
// do.  Everything it started is stopped in after(), even on failure.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN, ARTIFACTS, apiClient, cloudsim, launchBrowser, signIn, startDaemon, tearDown,
  waitFor } from './harness.mjs';

const CLOUDS = ['ww1', 'ww2', 'ww3'];
const GW = c => ({ name: `${c}-gw`, tunnel_ip: `198.18.4${c.slice(2)}.1`, public_ip: `198.19.4.${c.slice(2)}` });
// ww1's twin gateway (after ww1-gw by name: ww1-gw stays the preferred one,
// which takes VMs): the pair ww1 - ww2 has two tunnels.
const TWIN = { name: 'ww1-gw2', tunnel_ip: '198.18.41.2', public_ip: '198.19.4.11' };
const GATEWAYS = { ww1: [GW('ww1'), TWIN], ww2: [GW('ww2')], ww3: [GW('ww3')] };
const COSTS = [['ww1', 'ww2', 1], ['ww2', 'ww3', 1], ['ww1', 'ww3', 5]];
// name: [host, mac, ip]
const VMS = { r1: ['ww1-gw', '02:00:00:00:71:01', '10.71.0.1'], r3: ['ww3-gw', '02:00:00:00:71:03', '10.71.0.3'] };
const N = '/v1/tenants/red/networks/n';
const PREFIX = `svx${process.pid % 1000}`; // cloudsim's namespaces: PREFIX-h-HOST

let tmp, simDir, simUp = false, daemon, log, base, api, browser, page, pageErrors;

// Drops (on) or lets through again the underlay packets between 'host''s
// WAN address and peerIp, on its br-wan (tests/integration/wan_world.py's cut).
function cut(host, peerIp, on) {
  const ofctl = (...a) => execFileSync('ip', ['netns', 'exec', `${PREFIX}-h-${host}`.slice(0, 32), 'ovs-ofctl',
    '-O', 'OpenFlow13', ...a], { stdio: 'pipe' });
  const br = `unix:${path.join(simDir, host)}/br-wan.mgmt`;
  for (const m of [`ip,nw_dst=${peerIp}`, `ip,nw_src=${peerIp}`]) {
    if (on) ofctl('add-flow', br, `priority=100,${m},actions=drop`);
    else ofctl('del-flows', '--strict', br, `priority=100,${m}`);
  }
}

// The state of the tunnel between gateway hosts a and b.
async function tunnelState(a, b) {
  const t = (await api('GET', '/v1/topology')).tunnels.find(x => x.kind === 'inter-cloud'
    && [x.a, x.b].sort().join('|') === [a, b].sort().join('|'));
  return t && t.state;
}

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `wan-${name}.png`), fullPage: true });
}

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'skyweb-wan-'));
  chmodSync(tmp, 0o711); // the embedded PostgreSQL runs as the postgres user
  simDir = path.join(tmp, 'sim');
  const spec = { prefix: PREFIX, clouds: CLOUDS.map(c => ({ name: c, hosts: GATEWAYS[c] })),
    vms: Object.entries(VMS).map(([name, [host, mac, ip]]) => ({ name, host, iface: name, mac, ip })) };
  writeFileSync(path.join(tmp, 'spec.json'), JSON.stringify(spec));
  simUp = true; // from here on, after() tears down whatever got built
  cloudsim('up', path.join(tmp, 'spec.json'), simDir);
  ({ daemon, base, log } = await startDaemon(tmp, ['--bfd-ms', '100']));
  api = apiClient(base);
  for (const c of CLOUDS) {
    await api('POST', '/v1/clouds', { name: c, provider: 'aws', region: 'r1', kind: 'public',
      jurisdiction: { ww1: 'DE', ww2: 'US', ww3: 'PT' }[c] });
    for (const g of GATEWAYS[c]) {
      const d = path.join(simDir, g.name);
      await api('POST', '/v1/hosts', { name: g.name, cloud: c, role: 'gateway', tunnel_ip: g.tunnel_ip,
        public_ip: g.public_ip, ovsdb: `unix:${d}/db.sock`, datapath: 'netdev', openflow: `unix:${d}/br-sky.mgmt` });
    }
  }
  for (const [a, b, cost] of COSTS) await api('PUT', `/v1/cloud-links/${a}/${b}`, { cost });
  await api('POST', '/v1/tenants', { name: 'red' });
  await api('POST', '/v1/tenants/red/networks', { name: 'n', subnet: '10.71.0.0/24', tagging: 'mac-prefix' });
  await api('POST', `${N}/switches`, { name: 's' });
  for (const [name, [host, mac, ip]] of Object.entries(VMS)) {
    await api('POST', `${N}/vms`, { name, mac, ip, iface: name, switch: 's', placement: { host } });
  }
  await waitFor('five tunnels up', async () => {
    const t = (await api('GET', '/v1/topology')).tunnels.filter(x => x.kind === 'inter-cloud');
    return t.length === 5 && t.every(x => x.state === 'up');
  }, 90000);
  ({ browser, page, pageErrors } = await launchBrowser(path.join(tmp, 'profile')));
});

after(() => tearDown({ browser, daemon, log, simDir: simUp ? simDir : null, tmp }));

test('a cut tunnel is drawn red with the failovers counted, and heals', async () => {
  await page.goto(`${base}/ui/`);
  await signIn(page, ADMIN);
  const edges = page.locator('#map g.cloud-links[data-tunnels="2"][data-backups="1"]');
  await edges.waitFor();
  const link = page.locator('#map g.cloud-link[data-a="ww1"][data-b="ww2"]');
  await page.locator('#map g.cloud-link[data-a="ww1"][data-b="ww2"][data-state="up"]').waitFor();
  assert.equal(await page.locator('#map g.cloud-link.down, #map g.cloud-link.degraded').count(), 0);
  const counts = page.locator('#map text.wan-counts');
  const before = Number(await counts.getAttribute('data-failovers'));
  const ww2 = GW('ww2').public_ip;
  cut('ww1-gw', ww2, true);
  let twinCut = false;
  try {
    // One of the pair's two tunnels: the twin's still carries it.
    await waitFor('ww1-gw--ww2-gw down in the API', async () => (await tunnelState('ww1-gw', 'ww2-gw')) === 'down',
      15000);
    await page.locator('#map g.cloud-link.in-tree.degraded[data-a="ww1"][data-b="ww2"][data-state="degraded"]')
      .waitFor({ timeout: 15000 });
    assert.match(await link.locator('title').textContent(), /1 of 2 tunnels DOWN \(BFD\): the others carry it/);
    await page.locator('#map g.cloud-links[data-down="1"]').waitFor({ timeout: 15000 });
    await shot('map-degraded');
    // r1 is on ww1-gw, whose own tunnel is the cut one: its frames take the
    // backup (its group falls to the detour, not to the twin), and it says so.
    await page.click('#tab-networks');
    await page.click('button[data-net="red/n"]');
    await page.locator('#topology g.vm[data-name="r1"] text.node-note').waitFor({ timeout: 15000 });
    await page.click('#tab-map');
    // Both tunnels of the pair: the tree edge itself is down.
    cut('ww1-gw2', ww2, true);
    twinCut = true;
    await waitFor('ww1-gw2--ww2-gw down in the API', async () => (await tunnelState('ww1-gw2', 'ww2-gw')) === 'down',
      15000);
    await page.locator('#map g.cloud-link.in-tree.down[data-a="ww1"][data-b="ww2"][data-state="down"]')
      .waitFor({ timeout: 15000 });
    assert.equal(await link.locator('path.link-path').evaluate(e => getComputedStyle(e).stroke), 'rgb(180, 35, 24)');
    assert.equal(await link.locator('path.link-path').evaluate(e => getComputedStyle(e).strokeDasharray), 'none');
    assert.match(await link.locator('title').textContent(), /DOWN \(BFD\): traffic on its detour/);
    assert.equal(await page.locator('#map g.cloud-link.down').count(), 1);
    assert.equal(await page.locator('#map g.cloud-link.backup[data-state="up"]').count(), 1);
    await page.locator('#map g.cloud-links[data-down="2"]').waitFor({ timeout: 15000 });
    await waitFor('the ends counted on the page', async () =>
      Number(await counts.getAttribute('data-failovers')) >= before + 4, 15000);
    assert.match(await counts.textContent(), /tunnels down now 2 · failovers \d+/);
    await shot('map-down');
    // The network's drawing: r1 (on ww1-gw) says which tunnel it detours.
    await page.click('#tab-networks');
    await page.click('button[data-net="red/n"]');
    const note = page.locator('#topology g.vm[data-name="r1"] text.node-note');
    await note.waitFor({ timeout: 15000 });
    assert.match(await note.textContent(), /^path to cloud ww3 via backup: tunnel ww1-gw…$/); // cut to fit
    assert.match(await page.locator('#topology g.vm[data-name="r1"] title').textContent(),
      /detail: path to cloud ww3 via backup: tunnel ww1-gw--ww2-gw down/);
    await shot('topology-down');
    await page.click('#tab-map');
  } finally {
    cut('ww1-gw', ww2, false);
    if (twinCut) cut('ww1-gw2', ww2, false);
  }
  for (const g of ['ww1-gw', 'ww1-gw2']) {
    await waitFor(`${g}--ww2-gw up again`, async () => (await tunnelState(g, 'ww2-gw')) === 'up', 20000);
  }
  await page.locator('#map g.cloud-link[data-a="ww1"][data-b="ww2"][data-state="up"]:not(.down):not(.degraded)')
    .waitFor({ timeout: 15000 });
  await waitFor('recoveries on the page', async () =>
    Number(await counts.getAttribute('data-recoveries')) >= 4, 15000);
  assert.equal(await page.locator('#map g.cloud-links[data-down="0"]').count(), 1);
  await page.click('#tab-networks');
  await page.locator('#topology g.vm[data-name="r1"] text.node-note').waitFor({ state: 'detached', timeout: 15000 });
  await shot('map-healed');
});

test('no script error or CSP violation in the page', () => {
  assert.deepEqual(pageErrors, []);
});
