// app.js: the dashboard's controller.
//
// Flow: signed-out --(sign in: token [+ tenant], probe accepted)--> signed-in
// --(sign out | 401 while polling)--> signed-out.  While signed in, poll()
// runs once a second: it refetches every list with If-None-Match (api.js) and
// re-renders only if some answer was not a 304.  The model is rebuilt from
// scratch each time something changed; views are pure functions of it, and
// UI choices (current view, selected network, filters) live outside it so
// they survive re-renders.  The selected network's switches and tenant
// controllers are controllers.js's panel, built once per network so its
// forms survive re-renders too.  The selected VM's detail panel (snapshots,
// migrations) is lifecycle.js's: app.js only tells it which VM and ticks it.
// The Instances view (administrators) is instances.js's: each poll ticks it,
// it refetches GET /v1/instances every two seconds, and app.js redraws that
// view after each fetch and the map when a cloud's owner moved.

import { apiGet, apiList, ApiProblem, session, saveSession, clearSession, seg } from './api.js';
import { h, stateOf } from './dom.js';
import { renderMap } from './map.js';
import { renderTopology } from './topology.js';
import { renderVmDetail, lifecycleTick, closeVmDetail } from './lifecycle.js';
import { instancesTick, instancesAvailable, renderInstances, cloudOwners, resetInstances } from './instances.js';
import { renderControllers } from './controllers.js';

const $ = id => document.getElementById(id);
const ui = { view: 'map', net: null, vm: null, timer: null, model: null, busy: false };

function showProblem(err) {
  if (!err) { $('problem').hidden = true; return; }
  const p = err instanceof ApiProblem ? err : new ApiProblem(0, 'Cannot reach the API', String(err.message || err));
  $('problem-title').textContent = p.status ? `${p.title} (HTTP ${p.status})` : p.title;
  $('problem-detail').textContent = p.detail;
  $('problem').hidden = false;
}

// Fetch everything visible to this session.  Returns { model, changed }.
async function load() {
  const { tenant } = session();
  let changed = false;
  const pick = r => { changed = changed || r.changed; return r.items; };
  const model = { admin: !tenant, clouds: [], links: [], hosts: [], tenants: [], topology: null };
  let tenants;
  if (tenant) {
    const r = await apiGet(`/v1/tenants/${seg(tenant)}`);
    changed = changed || r.changed;
    tenants = [r.body];
  } else {
    model.clouds = pick(await apiList('/v1/clouds'));
    model.links = pick(await apiList('/v1/cloud-links'));
    model.hosts = pick(await apiList('/v1/hosts'));
    tenants = pick(await apiList('/v1/tenants'));
    // The inter-cloud tunnel tree; a 503 (reconciler still loading) only
    // leaves the map without it.
    try {
      const r = await apiGet('/v1/topology');
      changed = changed || r.changed;
      model.topology = r.body;
    } catch (e) {
      if (!(e instanceof ApiProblem) || e.status !== 503) throw e;
      model.topology = null;
    }
  }
  for (const t of tenants) {
    const base = `/v1/tenants/${seg(t.name)}/networks`;
    const nets = [];
    for (const n of pick(await apiList(base))) {
      const nb = `${base}/${seg(n.name)}`;
      nets.push({ ...n, tenant: t.name,
        switches: pick(await apiList(`${nb}/switches`)),
        links: pick(await apiList(`${nb}/links`)),
        vms: pick(await apiList(`${nb}/vms`)) });
    }
    model.tenants.push({ ...t, networks: nets });
  }
  return { model, changed };
}

function allNetworks(model) {
  return model.tenants.flatMap(t => t.networks);
}

function badge(obj) {
  const st = stateOf(obj);
  return h('span', { class: `badge state-${st}` }, st);
}

function renderHosts(model) {
  const vmsByHost = new Map();
  for (const n of allNetworks(model)) {
    for (const vm of n.vms) {
      if (!vm.host) continue;
      if (!vmsByHost.has(vm.host)) vmsByHost.set(vm.host, []);
      vmsByHost.get(vm.host).push({ vm, where: `${n.tenant}/${n.name}` });
    }
  }
  const box = h('div', { class: 'hostgrid' });
  if (!model.admin) {
    // Tenant tokens cannot list hosts: show where this tenant's VMs run.
    for (const [host, vms] of [...vmsByHost].sort()) {
      box.append(hostCard({ name: host, cloud: vms[0].vm.cloud, role: 'host' }, vms, true));
    }
    if (!vmsByHost.size) box.append(h('p', { class: 'hint' }, 'No placed VMs.'));
    return box;
  }
  for (const host of model.hosts) box.append(hostCard(host, vmsByHost.get(host.name) || [], false));
  if (!model.hosts.length) box.append(h('p', { class: 'hint' }, 'No hosts declared.'));
  return box;
}

function hostCard(host, vms, partial) {
  return h('article', { class: 'host', 'data-name': host.name },
    h('header', {}, h('h3', {}, host.name), host.status ? badge(host) : null),
    h('p', { class: 'meta' }, `${host.cloud} · ${host.role}`,
      host.tunnel_ip ? ` · tunnel ${host.tunnel_ip}` : '',
      partial ? '' : ` · ${host.vm_count} / ${host.capacity} VMs`),
    vms.length
      ? h('ul', { class: 'vmlist' }, vms.map(({ vm, where }) =>
        h('li', { title: vm.status.detail || '', 'data-vm': vm.name }, h('span', { class: `dot state-${stateOf(vm)}` }),
          ` ${vm.name} `, h('span', { class: 'meta' }, `${where} · ${vm.ip}`
            + (vm.rate_mbps != null ? ` · ≤ ${vm.rate_mbps} Mbit/s` : '')),
          vm.migration ? [' ', h('span', { class: `badge phase phase-${vm.migration.phase}` },
            `${vm.migration.phase} → ${vm.migration.to_host || '?'}`)] : null)))
      : h('p', { class: 'meta' }, 'no VMs'));
}

function renderNetworks(model) {
  const nets = allNetworks(model);
  if (!ui.net || !nets.some(n => `${n.tenant}/${n.name}` === ui.net)) {
    ui.net = nets.length ? `${nets[0].tenant}/${nets[0].name}` : null;
  }
  const list = $('netlist');
  list.replaceChildren(...nets.map(n => {
    const key = `${n.tenant}/${n.name}`;
    const errors = [n, ...n.switches, ...n.links, ...n.vms].filter(o => stateOf(o) === 'error').length;
    const b = h('button', { type: 'button', class: 'netbtn', 'data-net': key,
      'aria-pressed': key === ui.net ? 'true' : 'false' },
    h('span', { class: `dot state-${stateOf(n)}` }), ` ${key}`,
    h('span', { class: 'meta' }, ` ${n.subnet}`),
    errors ? h('span', { class: 'badge state-error' }, `${errors} error`) : null);
    b.addEventListener('click', () => { if (ui.net !== key) ui.vm = null; ui.net = key; render(); });
    return h('li', {}, b);
  }));
  if (!nets.length) list.append(h('li', { class: 'hint' }, 'No networks.'));
  const net = nets.find(n => `${n.tenant}/${n.name}` === ui.net);
  const cap = net && model.tenants.find(t => t.name === net.tenant)?.wan_limit_mbps;
  $('net-title').textContent = net ? `${net.tenant} / ${net.name}`
    + (cap != null ? ` (WAN cap ${cap} Mbit/s per inter-cloud link)` : '') : '';
  const sum = { pending: 0, realized: 0, error: 0 };
  if (net) for (const o of [net, ...net.switches, ...net.links, ...net.vms]) sum[stateOf(o)]++;
  $('net-summary').replaceChildren(...(net ? [
    `${net.subnet} · tagging ${net.tagging} · `, badge(net), ' ',
    `${net.switches.length} switches, ${net.links.length} links, ${net.vms.length} VMs — `,
    `${sum.realized} realized, ${sum.pending} pending, ${sum.error} error`] : []));
  $('topology').replaceChildren(net ? renderTopology(net) : h('p', { class: 'hint' }, 'Select a network.'));
  renderControllers($('controllers'), net, net && model.tenants.find(t => t.name === net.tenant),
    model.admin, poll);
  renderVmPane(model, net);
}

// The selected network's VMs as buttons, and the selected one's detail.
function renderVmPane(model, net) {
  const vms = net ? [...net.vms].sort((a, b) => a.name.localeCompare(b.name)) : [];
  if (ui.vm && !vms.some(v => v.name === ui.vm)) ui.vm = null;
  $('vmpick').replaceChildren(...vms.map(vm => {
    const b = h('button', { type: 'button', class: 'vmbtn', 'data-vm': vm.name,
      'aria-pressed': vm.name === ui.vm ? 'true' : 'false' },
    h('span', { class: `dot state-${stateOf(vm)}` }), ` ${vm.name}`,
    vm.migration ? h('span', { class: `badge phase phase-${vm.migration.phase}` }, vm.migration.phase) : null,
    vm.power === 'stopped' ? h('span', { class: 'badge power-stopped' }, 'stopped') : null);
    b.addEventListener('click', () => selectVm(vm.name));
    return h('li', {}, b);
  }));
  for (const g of document.querySelectorAll('#topology g.vm')) {
    g.classList.toggle('selected', g.dataset.name === ui.vm);
  }
  const vm = vms.find(v => v.name === ui.vm);
  if (!vm) {
    closeVmDetail();
    $('vm-detail').replaceChildren(h('p', { class: 'hint' },
      vms.length ? 'Select a VM (here or in the drawing) for its snapshots and live migrations.' : 'No VMs.'));
    return;
  }
  renderVmDetail($('vm-detail'), net, vm, { hosts: model.hosts, clouds: model.clouds });
}

function selectVm(name) {
  ui.vm = ui.vm === name ? null : name;
  render();
}

function rows(model) {
  const out = [];
  const add = (kind, o, where) => out.push({ kind, name: o.name, where, state: stateOf(o), detail: (o.status && o.status.detail) || '' });
  for (const c of model.clouds) add('cloud', c, `${c.provider} ${c.region} (${c.jurisdiction})`);
  for (const x of model.hosts) add('host', x, `${x.cloud} · ${x.role}`);
  for (const t of model.tenants) {
    add('tenant', t, `tag ${t.tag}`);
    for (const n of t.networks) {
      const w = `${t.name}/${n.name}`;
      add('network', n, t.name);
      for (const o of n.switches) add('switch', o, w);
      for (const o of n.links) add('link', o, w);
      for (const o of n.vms) add('vm', o, `${w} · ${o.host || 'unplaced'}`);
    }
  }
  return out;
}

function renderTable(model) {
  const kind = $('f-kind').value, state = $('f-state').value;
  const text = $('f-text').value.trim().toLowerCase();
  const all = rows(model);
  const shown = all.filter(r => (!kind || r.kind === kind) && (!state || r.state === state)
    && (!text || `${r.name} ${r.where} ${r.detail}`.toLowerCase().includes(text)));
  $('table-body').replaceChildren(...shown.map(r => h('tr', { 'data-kind': r.kind, 'data-name': r.name },
    h('td', {}, r.kind), h('td', {}, r.name), h('td', {}, r.where),
    h('td', {}, h('span', { class: `badge state-${r.state}` }, r.state)), h('td', {}, r.detail))));
  $('table-count').textContent = `${shown.length} of ${all.length} objects`;
}

function renderMapView(m) {
  $('map').replaceChildren(renderMap(m.clouds, m.links, m.topology, cloudOwners()));
}

function render() {
  const m = ui.model;
  if (!m) return;
  $('tab-map').hidden = !m.admin;
  $('tab-instances').hidden = !instancesAvailable(m.admin);
  if (ui.view === 'instances' && $('tab-instances').hidden) ui.view = m.admin ? 'map' : 'networks';
  for (const b of document.querySelectorAll('.tab')) {
    const on = b.dataset.view === ui.view;
    b.setAttribute('aria-current', on ? 'page' : 'false');
    $(`view-${b.dataset.view}`).hidden = !on;
  }
  renderMapView(m);
  $('instances').replaceChildren(renderInstances(m.clouds));
  $('hosts').replaceChildren(renderHosts(m));
  renderNetworks(m);
  renderTable(m);
}

async function poll() {
  if (ui.busy) return;
  ui.busy = true;
  try {
    const { model, changed } = await load();
    showProblem(null);
    if (changed || !ui.model) { ui.model = model; render(); }
    const inst = await instancesTick(ui.model.admin);
    if (inst.ownersChanged && !instancesAvailable(ui.model.admin)) {
      render(); // the API refused the view: hide its tab
    } else if (inst.fetched) {
      $('instances').replaceChildren(renderInstances(ui.model.clouds));
      if (inst.ownersChanged) renderMapView(ui.model);
    }
    if (ui.view === 'networks') lifecycleTick();
    $('live').textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 401) { signOut(); showProblem(err); return; }
    showProblem(err);
  } finally {
    ui.busy = false;
  }
}

function enterApp() {
  const { tenant } = session();
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  $('live').hidden = false;
  $('whoami').hidden = false;
  $('whoami').textContent = tenant ? `tenant ${tenant}` : 'administrator';
  if (tenant && ui.view === 'map') ui.view = 'networks';
  clearInterval(ui.timer);
  ui.timer = setInterval(poll, 1000);
}

function signOut() {
  clearInterval(ui.timer);
  ui.timer = null;
  ui.model = null;
  ui.view = 'map';
  ui.net = null;
  ui.vm = null;
  closeVmDetail();
  resetInstances();
  clearSession();
  for (const id of ['map', 'instances', 'hosts', 'netlist', 'topology', 'controllers', 'vmpick', 'table-body']) {
    $(id).replaceChildren();
  }
  $('app').hidden = true;
  $('signout').hidden = true;
  $('live').hidden = true;
  $('whoami').hidden = true;
  $('signin').hidden = false;
  $('token').value = '';
  $('token').focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $('token').value.trim();
  const tenant = $('tenant').value.trim();
  saveSession(token, tenant);
  try {
    // Probe: an admin token can list tenants; a tenant token can read its tenant.
    await apiGet(tenant ? `/v1/tenants/${seg(tenant)}` : '/v1/tenants?limit=1');
  } catch (err) {
    clearSession();
    if (err instanceof ApiProblem && err.status === 403 && !tenant) {
      err.detail = `${err.detail} — this looks like a tenant token: enter its tenant name.`;
    }
    showProblem(err);
    $(err instanceof ApiProblem && err.status === 403 ? 'tenant' : 'token').focus();
    return;
  }
  showProblem(null);
  enterApp();
  await poll();
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => { signOut(); showProblem(null); });
  for (const b of document.querySelectorAll('.tab')) {
    b.addEventListener('click', () => { ui.view = b.dataset.view; render(); });
  }
  for (const id of ['f-kind', 'f-state', 'f-text']) {
    $(id).addEventListener('input', () => ui.model && renderTable(ui.model));
  }
  $('filters').addEventListener('submit', e => e.preventDefault());
  $('topology').addEventListener('click', e => {
    const g = e.target.closest && e.target.closest('g.vm');
    if (g) selectVm(g.dataset.name);
  });
  if (session().token) { enterApp(); poll(); }
});
