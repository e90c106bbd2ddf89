// instances.js: the Instances view (administrators only): every skyvisord
// process sharing the database and which one owns which cloud.
//
// Data: GET /v1/instances (openapi InstanceList), read by the database's
// clock: instances[] (id, name, API and OpenFlow addresses, --clouds
// preference, lease and heartbeat periods, last heartbeat, alive),
// leases[] (one per cloud ever leased: holder, epoch, expiry, expired,
// takeovers) and self, the answering instance's own view of its grants
// (remaining_ms by its own monotonic clock).  The page never judges
// staleness by the browser's clock: "stale" is alive = false and "expired"
// is expired = true, both as the API says.
//
// Polling: app.js calls instancesTick() on each of its one-second polls; the
// document is refetched when two seconds have passed since the last fetch
// (it has no ETag: heartbeats change it every second anyway).  A 403 (a
// token that is not an administrator's) or a 404 (a server without the
// endpoint) is no error: the view is simply not offered
// (instancesAvailable() false) until the next sign-in.  Any other failure
// is thrown to app.js, which shows it like any other.
//
// Rendering: renderInstances() is a pure function of the last document and
// the clouds app.js knows; cloudOwners() gives the map its owner per cloud,
// and instancesTick() says when that changed, so the map is redrawn only
// when ownership moves, not at every heartbeat.

import { apiGet, ApiProblem } from './api.js';
import { h } from './dom.js';

const REFRESH_MS = 2000;

const st = {
  doc: null,        // the last InstanceList
  fetchedAt: 0,     // Date.now() of the last fetch started
  hidden: false,    // the API refused the view (403/404)
  ownersKey: '',    // cloudOwners() as a string, to spot changes
};

// Forget everything (sign-out).
export function resetInstances() {
  st.doc = null;
  st.fetchedAt = 0;
  st.hidden = false;
  st.ownersKey = '';
}

// Whether the view may be offered: an administrator's session whose API
// has not refused GET /v1/instances.
export function instancesAvailable(admin) {
  return admin && !st.hidden;
}

// Refetch the document when due.  Resolves to { fetched, ownersChanged };
// throws ApiProblem for anything but 403/404.
export async function instancesTick(admin) {
  if (!instancesAvailable(admin) || Date.now() - st.fetchedAt < REFRESH_MS - 100) {
    return { fetched: false, ownersChanged: false };
  }
  st.fetchedAt = Date.now();
  try {
    st.doc = (await apiGet('/v1/instances')).body;
  } catch (e) {
    if (e instanceof ApiProblem && (e.status === 403 || e.status === 404)) {
      st.hidden = true;
      st.doc = null;
      return { fetched: true, ownersChanged: true };
    }
    throw e;
  }
  const key = JSON.stringify([...cloudOwners()]);
  const ownersChanged = key !== st.ownersKey;
  st.ownersKey = key;
  return { fetched: true, ownersChanged };
}

// cloud name -> { lease: 'held' | 'expired', holder, holderName, address,
// epoch, alive } for every cloud with a lease; a cloud never leased is
// absent.  Empty before the first fetch or when the view is hidden.
export function cloudOwners() {
  const out = new Map();
  if (!st.doc) return out;
  const byId = new Map(st.doc.instances.map(i => [i.id, i]));
  for (const l of st.doc.leases) {
    const inst = l.holder ? byId.get(l.holder) : null;
    out.set(l.cloud, { lease: l.expired ? 'expired' : 'held', holder: l.holder,
      holderName: l.holder_name, address: inst ? inst.api_address : null,
      epoch: l.epoch, alive: inst ? inst.alive : false });
  }
  return out;
}

function clock(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

const at = (iso, attrs = {}) => h('time', { datetime: iso, title: iso, ...attrs }, clock(iso));

// An epoch is the database timeline times 2^32 plus a sequence number
// (migrations/007_instances_leases.sql); the hover text says which.
function epochCell(epoch) {
  const tl = Math.floor(epoch / 4294967296), seq = epoch % 4294967296;
  return h('span', { class: 'epoch', 'data-field': 'epoch', title: `timeline ${tl}, acquisition ${seq}` },
    String(epoch));
}

function leaseBadge(l) {
  return l.expired
    ? h('span', { class: 'badge lease-expired' }, 'expired')
    : h('span', { class: 'badge lease-held' }, 'held');
}

function aliveBadge(inst) {
  return inst.alive
    ? h('span', { class: 'badge state-realized', 'data-field': 'alive' }, 'alive')
    : h('span', { class: 'badge stale', 'data-field': 'alive',
      title: `no heartbeat for more than its lease (${inst.lease_ms} ms)` }, 'stale heartbeat');
}

function instanceCard(inst, leases, self) {
  const mine = self && self.id === inst.id;
  const left = new Map(mine ? self.owns.map(g => [g.cloud, g.remaining_ms]) : []);
  return h('article', { class: `instance${inst.alive ? '' : ' is-stale'}`, 'data-id': inst.id,
    'data-alive': String(inst.alive), 'data-api': inst.api_address },
  h('header', {}, h('h3', {}, inst.name), aliveBadge(inst),
    mine ? h('span', { class: 'badge self', title: 'the instance answering this page' }, 'this API') : null),
  h('dl', { class: 'facts' },
    h('div', {}, h('dt', {}, 'API'), h('dd', { 'data-field': 'api_address' }, inst.api_address)),
    h('div', {}, h('dt', {}, 'OpenFlow'), h('dd', { 'data-field': 'openflow_address' },
      inst.openflow_address || 'none')),
    h('div', {}, h('dt', {}, 'last heartbeat'), h('dd', { 'data-field': 'heartbeat_at' }, at(inst.heartbeat_at))),
    h('div', {}, h('dt', {}, 'heartbeat / lease'), h('dd', {}, `${inst.heartbeat_ms} ms / ${inst.lease_ms} ms`)),
    h('div', {}, h('dt', {}, 'healthy since'), h('dd', {}, at(inst.healthy_since))),
    h('div', {}, h('dt', {}, 'started'), h('dd', {}, at(inst.started_at))),
    h('div', {}, h('dt', {}, 'prefers'), h('dd', { 'data-field': 'clouds' },
      inst.clouds.length ? inst.clouds.join(', ') : 'any cloud'))),
  leases.length
    ? h('table', { class: 'grid leases' },
      h('thead', {}, h('tr', {}, ...['Cloud', 'Epoch', 'Expires', 'Lease'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, leases.map(l => h('tr', { 'data-cloud': l.cloud, 'data-lease': l.expired ? 'expired' : 'held',
        class: l.expired ? 'expired' : '' },
      h('td', {}, l.cloud), h('td', {}, epochCell(l.epoch)),
      h('td', {}, at(l.expires_at),
        left.has(l.cloud) ? h('span', { class: 'meta', title: "by this instance's own clock" },
          ` (${(left.get(l.cloud) / 1000).toFixed(1)} s left)`) : null),
      h('td', {}, leaseBadge(l))))))
    : h('p', { class: 'meta' }, 'holds no lease'));
}

// The view for the last document; clouds are app.js's model.clouds, so a
// cloud never leased still shows (as unowned).
export function renderInstances(clouds) {
  const d = st.doc;
  if (!d) return h('p', { class: 'hint' }, 'Loading instances…');
  const byHolder = new Map();
  for (const l of d.leases) {
    if (!byHolder.has(l.holder)) byHolder.set(l.holder, []);
    byHolder.get(l.holder).push(l);
  }
  const alive = d.instances.filter(i => i.alive).length;
  const expired = d.leases.filter(l => l.expired).length;
  const leases = new Map(d.leases.map(l => [l.cloud, l]));
  const names = [...new Set([...clouds.map(c => c.name), ...leases.keys()])].sort();
  const byId = new Map(d.instances.map(i => [i.id, i]));
  const owners = h('table', { class: 'grid owners', id: 'owners' },
    h('caption', { class: 'hint' }, 'Every cloud, who holds its lease and with which epoch.'),
    h('thead', {}, h('tr', {}, ...['Cloud', 'Owner', 'Epoch', 'Expires', 'Takeovers', 'Lease']
      .map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, names.map(name => {
      const l = leases.get(name);
      if (!l) {
        return h('tr', { 'data-cloud': name, 'data-lease': 'none' }, h('td', {}, name),
          h('td', { class: 'meta', colspan: 4 }, 'never leased'),
          h('td', {}, h('span', { class: 'badge lease-expired' }, 'no owner')));
      }
      const inst = byId.get(l.holder);
      return h('tr', { 'data-cloud': name, 'data-lease': l.expired ? 'expired' : 'held',
        'data-holder': l.holder || '', class: l.expired ? 'expired' : '' },
      h('td', {}, name),
      h('td', { 'data-field': 'owner' }, l.holder_name || 'a departed instance',
        inst && !(l.holder_name || '').includes(inst.api_address)
          ? h('span', { class: 'meta' }, ` ${inst.api_address}`) : null,
        inst && !inst.alive ? [' ', h('span', { class: 'badge stale' }, 'stale')] : null),
      h('td', {}, epochCell(l.epoch)), h('td', {}, at(l.expires_at)),
      h('td', { 'data-field': 'takeovers' }, String(l.takeovers)), h('td', {}, leaseBadge(l)));
    })));
  return h('div', { class: 'instances-body' },
    h('p', { class: 'net-summary', id: 'inst-summary' },
      `${d.instances.length} instance${d.instances.length === 1 ? '' : 's'}, ${alive} alive · `,
      `${d.leases.length - expired} of ${names.length} clouds owned`,
      expired ? `, ${expired} lease${expired === 1 ? '' : 's'} expired` : '',
      d.self ? ` · answered by ${byId.get(d.self.id)?.name || d.self.id}` : ''),
    owners,
    h('div', { class: 'instgrid' }, d.instances.map(i => instanceCard(i, byHolder.get(i.id) || [], d.self))),
    byHolder.has(null)
      ? h('p', { class: 'meta' }, `Leases left by departed instances: ${byHolder.get(null).map(l => l.cloud).join(', ')}.`)
      : null);
}
