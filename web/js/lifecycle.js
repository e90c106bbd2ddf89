// lifecycle.js: one VM's detail panel: its power (stop, start), its
// snapshots (take one, list, delete) and its live migrations (start one,
// follow it phase by phase, roll it back).
//
// The panel belongs to one VM at a time (ui.vm in app.js).  Its skeleton,
// the forms included, is built once per selected VM, so a re-render never
// wipes what the user is typing; refreshes replace only the parts that show
// data (header, snapshot table, migration panel).  Data come from
//   .../vms/{vm}              the VM itself (app.js's model: host, power,
//                             the active migration's id and phase)
//   .../vms/{vm}/snapshots    state pending -> ready | error, size, captured_at
//   .../vms/{vm}/migrations   oldest first; the newest is the one shown
// Polling: app.js calls lifecycleTick() once a second.  While something is
// in flight (a migration not in a terminal phase, a snapshot pending) the
// lists are refetched on every tick, otherwise on every fifth; apiGet's
// ETags make an unchanged list a 304.  The reconciler moves phases and
// settles snapshots; the page never infers a phase, it shows what the API
// says.  Errors of an action (problem+json) stay in the panel's own alert
// until the next action, since the page-wide banner is cleared by each
// successful poll.

import { apiGet, apiList, apiSend, ApiProblem, seg } from './api.js';
import { h } from './dom.js';

// The forward phases, in order; a migration ends in done, rolled-back or failed.
export const PHASES = ['prepare', 'clone', 'dual', 'activate', 'cleanup', 'done'];
const TERMINAL = new Set(['done', 'rolled-back', 'failed']);
const MAY_ROLL_BACK = new Set(['prepare', 'clone', 'dual']); // core/vm_phase.c
const IDLE_EVERY = 5; // ticks between refreshes when nothing is in flight

const PHASE_TEXT = {
  prepare: 'target chosen, its capacity reserved',
  clone: "the VM's flows installed at the target",
  dual: 'traffic delivered to both places',
  activate: 'the VM is live at the target',
  cleanup: "the source's flows and port being removed",
  done: 'the VM runs at the target',
  'rolled-back': 'the VM stayed where it was',
  failed: 'the migration failed',
};

// The panel's state; reset by closeVmDetail().
const st = {
  key: null,      // "tenant/network/vm" of the VM shown
  base: null,     // its URL
  vm: null,       // its object from the latest model
  ctx: null,      // { admin, hosts, clouds } for the migrate form's suggestions
  parts: null,    // the DOM nodes refreshed in place
  snaps: [],
  migs: [],
  loaded: false,  // the lists have been fetched once for this VM
  tick: 0,
  busy: false,
};

const $ = id => document.getElementById(id);

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

function bytes(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n, u = -1;
  do { v /= 1024; u++; } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function seconds(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

// The migration the panel shows: the VM's active one, else the newest.
function current() {
  const active = st.vm && st.vm.migration && st.vm.migration.id;
  return st.migs.find(m => m.id === active) || st.migs[st.migs.length - 1] || null;
}

function inFlight() {
  return st.migs.some(m => !TERMINAL.has(m.phase)) || st.snaps.some(x => x.state === 'pending')
    || Boolean(st.vm && st.vm.migration);
}

function showActionProblem(err) {
  const box = st.parts && st.parts.problem;
  if (!box) return;
  if (!err) { box.hidden = true; box.replaceChildren(); return; }
  const p = err instanceof ApiProblem ? err : new ApiProblem(0, 'Cannot reach the API', String(err.message || err));
  box.replaceChildren(h('strong', {}, p.status ? `${p.title} (HTTP ${p.status})` : p.title), ' ',
    h('span', {}, p.detail, p.field ? h('span', { class: 'meta' }, ` · field ${p.field}`) : null));
  box.hidden = false;
}

// Runs one action (a write), shows its problem if any, then refreshes.
async function act(button, fn) {
  showActionProblem(null);
  if (button) button.disabled = true;
  try {
    await fn();
  } catch (err) {
    showActionProblem(err);
  } finally {
    if (button) button.disabled = false;
    await refresh(true);
  }
}

// --- rendering -------------------------------------------------------------

function renderHeader() {
  const vm = st.vm;
  const mig = vm.migration;
  const where = vm.host ? `${vm.host}${vm.cloud ? ` (${vm.cloud})` : ''}` : 'not placed';
  const power = vm.power || 'running';
  const stop = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-action': 'stop' }, 'Stop');
  const start = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-action': 'start' }, 'Start');
  // Start from: the VM's newest snapshot (the API's default) or a ready one
  // named; the choice survives re-renders.
  const prev = $('start-from') ? $('start-from').value : '';
  const ready = st.snaps.filter(x => x.state === 'ready')
    .sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
  const from = h('select', { id: 'start-from', 'aria-label': 'Start from snapshot' },
    h('option', { value: '' }, 'newest snapshot'), ready.map(x => h('option', { value: x.name }, x.name)));
  if (ready.some(x => x.name === prev)) from.value = prev;
  stop.addEventListener('click', () => act(stop, () => apiSend('POST', `${st.base}/stop`, {})));
  start.addEventListener('click', () => act(start, () =>
    apiSend('POST', `${st.base}/start`, from.value ? { snapshot: from.value } : {})));
  st.parts.head.replaceChildren(
    h('h3', {}, `VM ${vm.name}`),
    h('p', { class: 'meta' }, `${vm.ip} · ${vm.mac} · switch ${vm.switch}`),
    h('p', { class: 'vm-where' }, power === 'stopped' ? 'Last at ' : 'Now at ',
      h('strong', { 'data-field': 'host' }, where),
      ' · ', h('span', { class: `badge power-${power}`, 'data-field': 'power' }, power),
      mig ? h('span', { class: 'meta' }, ` · migrating to ${mig.to_host || '?'} (${mig.phase})`) : null),
    h('p', { class: 'vm-actions' }, power === 'running' ? stop : [start, h('label', { class: 'meta' }, 'from ', from)]));
  if (mig) stop.disabled = true;
}

function renderSnapshots() {
  const snaps = [...st.snaps].sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
  const body = snaps.map(x => {
    const del = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-action': 'delete' }, 'Delete');
    del.addEventListener('click', () => act(del, () => apiSend('DELETE', `${st.base}/snapshots/${seg(x.id)}`)));
    const stateCls = x.state === 'ready' ? 'realized' : x.state;
    return h('tr', { 'data-name': x.name, 'data-state': x.state },
      h('td', {}, x.name, x.reason === 'stop' ? h('span', { class: 'meta' }, ' (stop)') : null),
      h('td', {}, h('span', { class: `badge state-${stateCls}` }, x.state)),
      h('td', { 'data-size': x.size_bytes ?? '' }, bytes(x.size_bytes)),
      h('td', { title: x.captured_at || '' }, when(x.captured_at)),
      h('td', { class: 'detail' }, x.detail || ''),
      h('td', {}, del));
  });
  st.parts.snaps.replaceChildren(...(body.length ? body
    : [h('tr', {}, h('td', { colspan: 6, class: 'hint' }, st.loaded ? 'No snapshots.' : 'Loading…'))]));
}

// The phases to draw for migration m: the forward ones it reached, then
// either the rest of the road (greyed) or its terminal phase.
function steps(m) {
  const times = m.phase_times || {};
  if (m.phase === 'rolled-back' || m.phase === 'failed') {
    return [...PHASES.filter(p => times[p]), m.phase];
  }
  return PHASES;
}

function renderTimeline(m) {
  const times = m.phase_times || {};
  const seq = steps(m);
  const at = seq.indexOf(m.phase);
  let prev = null;
  return h('ol', { class: 'timeline', 'aria-label': 'Phases' }, seq.map((p, i) => {
    const t = times[p];
    const ms = t && prev ? new Date(t) - new Date(prev) : null;
    if (t) prev = t;
    const cls = i < at ? 'past' : i === at ? 'current' : 'todo';
    const term = p === 'rolled-back' || p === 'failed' ? ` end-${p}` : '';
    return h('li', { class: `step ${cls}${term}`, 'data-phase': p, title: PHASE_TEXT[p] || '' },
      h('span', { class: 'step-name' }, p),
      h('span', { class: 'step-time', title: t || '' }, t ? when(t) : ''),
      ms !== null ? h('span', { class: 'step-dt' }, `+${seconds(ms)}`) : null);
  }));
}

function renderMigration() {
  const m = current();
  const box = st.parts.mig;
  if (!m) {
    box.replaceChildren(h('p', { class: 'hint' }, st.loaded ? 'No migration yet.' : 'Loading…'));
    box.removeAttribute('data-phase');
    return;
  }
  const c = m.counters || {};
  const done = TERMINAL.has(m.phase);
  const vm = st.vm;
  // Where the VM is: the API's own answer (its host moves at activate);
  // during dual its traffic reaches both places.
  const now = m.phase === 'dual' ? `${vm.host || m.from_host}, its traffic copied to ${m.to_host}` : (vm.host || '');
  const buttons = [];
  if (MAY_ROLL_BACK.has(m.phase)) {
    const asked = Boolean(m.rollback_requested_at);
    const rb = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'rollback',
      disabled: asked }, asked ? 'Rolling back…' : 'Roll back');
    rb.addEventListener('click', () => act(rb, () => apiSend('DELETE', `${st.base}/migrations/${seg(m.id)}`)));
    buttons.push(rb);
    if (!asked) {
      const ac = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-action': 'activate',
        disabled: Boolean(m.activate_requested_at) }, m.activate_requested_at ? 'Activation asked' : 'Activate now');
      ac.addEventListener('click', () => act(ac, () => apiSend('POST', `${st.base}/migrations/${seg(m.id)}/activate`)));
      buttons.push(ac);
    }
  }
  const notes = [];
  if (m.rollback_requested_at) notes.push(`Rollback asked at ${when(m.rollback_requested_at)}.`);
  if (m.activate_requested_at) notes.push(`Activation asked at ${when(m.activate_requested_at)}.`);
  if (m.finished_at) notes.push(`Finished at ${when(m.finished_at)}.`);
  box.dataset.phase = m.phase;
  box.replaceChildren(...[
    h('header', { class: 'mig-head' },
      h('span', { class: `badge phase phase-${m.phase}`, 'data-field': 'phase' }, m.phase),
      h('span', { class: 'mig-route' },
        h('strong', { 'data-field': 'from_host' }, m.from_host || '?'), h('span', { class: 'meta' }, m.from_cloud ? ` ${m.from_cloud}` : ''),
        ' → ',
        h('strong', { 'data-field': 'to_host' }, m.to_host || '?'), h('span', { class: 'meta' }, m.to_cloud ? ` ${m.to_cloud}` : '')),
      h('span', { class: 'meta mig-id', title: m.id }, `migration ${m.id.slice(0, 8)}`)),
    h('p', { class: 'mig-text' }, PHASE_TEXT[m.phase] || '', done ? '' : ` · VM now at ${now}`),
    renderTimeline(m),
    h('dl', { class: 'counters' },
      h('div', {}, h('dt', {}, 'duplicated'), h('dd', { 'data-field': 'duplicated' }, String(c.duplicated ?? 0))),
      h('div', {}, h('dt', {}, 'to controller'), h('dd', { 'data-field': 'to_controller' }, String(c.to_controller ?? 0))),
      h('div', {}, h('dt', {}, 'flows cloned'), h('dd', { 'data-field': 'flows_cloned' }, String(c.flows_cloned ?? 0))),
      h('div', {}, h('dt', {}, 'dual limit'), h('dd', {}, `${m.dual_timeout_s} s`))),
    m.detail ? h('p', { class: 'mig-detail', 'data-field': 'detail' }, m.detail) : null,
    notes.length ? h('p', { class: 'meta', 'data-field': 'notes' }, notes.join(' ')) : null,
    buttons.length ? h('p', { class: 'vm-actions' }, buttons) : null].filter(Boolean));
  const older = st.migs.filter(x => x !== m).reverse();
  st.parts.history.replaceChildren(...older.map(x => h('li', { 'data-phase': x.phase },
    h('span', { class: `badge phase phase-${x.phase}` }, x.phase), ` ${x.from_host || '?'} → ${x.to_host || '?'} `,
    h('span', { class: 'meta' }, when(x.created_at)))));
  st.parts.historyBox.hidden = !older.length;
}

// The migrate form's state follows the VM: off while one is active or the VM is stopped.
function renderForm() {
  const f = st.parts.form;
  // The VM's own view (app.js's model) and the list here may be a poll apart.
  const migrating = Boolean(st.vm.migration) || st.migs.some(m => !TERMINAL.has(m.phase));
  f.submit.disabled = migrating || st.vm.power === 'stopped';
  f.hint.textContent = migrating ? 'A migration is under way.'
    : st.vm.power === 'stopped' ? 'A stopped VM is started where it should run instead.' : '';
  const kind = f.kind.value;
  const names = kind === 'cloud' ? st.ctx.clouds.map(c => c.name)
    : st.ctx.hosts.filter(x => x.role !== 'gateway' && x.name !== st.vm.host).map(x => x.name);
  const have = [...f.list.children].map(o => o.value).join('\n');
  if (have !== names.join('\n')) f.list.replaceChildren(...names.map(n => h('option', { value: n })));
}

function renderAll() {
  if (!st.parts || !st.vm) return;
  renderHeader();
  renderSnapshots();
  renderMigration();
  renderForm();
}

function skeleton() {
  const problem = h('div', { class: 'problem vm-problem', role: 'alert', hidden: true });
  const head = h('div', { class: 'vm-head' });
  const snapName = h('input', { type: 'text', id: 'snap-name', placeholder: 'name (optional)', autocomplete: 'off',
    'aria-label': 'Snapshot name' });
  const snapBtn = h('button', { type: 'submit', class: 'btn btn-small', id: 'snap-take' }, 'Take snapshot');
  const snapForm = h('form', { class: 'inline-form', id: 'snap-form' }, snapName, snapBtn);
  snapForm.addEventListener('submit', ev => {
    ev.preventDefault();
    const name = snapName.value.trim();
    act(snapBtn, async () => {
      await apiSend('POST', `${st.base}/snapshots`, name ? { name } : {});
      snapName.value = '';
    });
  });
  const snaps = h('tbody', { id: 'snap-body' });
  const kind = h('select', { id: 'mig-kind', 'aria-label': 'Target kind' },
    h('option', { value: 'host' }, 'host'), h('option', { value: 'cloud' }, 'cloud'));
  const target = h('input', { type: 'text', id: 'mig-target', list: 'mig-targets', required: true,
    autocomplete: 'off', placeholder: 'target name', 'aria-label': 'Target' });
  const list = h('datalist', { id: 'mig-targets' });
  const submit = h('button', { type: 'submit', class: 'btn btn-small', id: 'mig-start' }, 'Migrate');
  const hint = h('span', { class: 'hint' });
  const form = h('form', { class: 'inline-form', id: 'mig-form' }, h('label', { for: 'mig-kind' }, 'Migrate to'),
    kind, target, list, submit, hint);
  kind.addEventListener('change', () => renderForm());
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const name = target.value.trim();
    if (!name) return;
    act(submit, async () => {
      await apiSend('POST', `${st.base}/migrations`, { [kind.value]: name });
      target.value = '';
    });
  });
  const mig = h('div', { class: 'mig', id: 'mig-panel', 'aria-live': 'polite' });
  const history = h('ul', { class: 'mig-history' });
  const historyBox = h('details', { class: 'mig-older', hidden: true }, h('summary', {}, 'Earlier migrations'), history);
  st.parts = { problem, head, snaps, mig, history, historyBox, form: { kind, target, list, submit, hint } };
  return [head, problem,
    h('section', { class: 'vm-sec', 'aria-labelledby': 'mig-h' }, h('h4', { id: 'mig-h' }, 'Live migration'),
      form, mig, historyBox),
    h('section', { class: 'vm-sec', 'aria-labelledby': 'snap-h' }, h('h4', { id: 'snap-h' }, 'Snapshots'),
      snapForm,
      h('table', { class: 'grid snaps' },
        h('thead', {}, h('tr', {}, ['Name', 'State', 'Size', 'Captured', 'Detail', ''].map(x => h('th', { scope: 'col' }, x)))),
        snaps))];
}

// --- data ------------------------------------------------------------------

async function refresh(force) {
  if (!st.key || (st.busy && !force)) return;
  const key = st.key;
  st.busy = true;
  try {
    const [s, m] = await Promise.all([apiList(`${st.base}/snapshots`), apiList(`${st.base}/migrations`)]);
    if (key !== st.key) return; // another VM was selected meanwhile
    const first = !st.loaded;
    st.loaded = true;
    if (s.changed || m.changed || first || force) {
      st.snaps = s.items;
      st.migs = m.items;
      renderAll();
    }
  } catch (err) {
    if (key === st.key) showActionProblem(err);
  } finally {
    st.busy = false;
  }
}

// Shows VM 'vm' of network 'net' in 'container' (ctx: { hosts, clouds } the
// session can see).  Called by app.js on each render; builds the skeleton
// only when the VM changes.
export function renderVmDetail(container, net, vm, ctx) {
  const key = `${net.tenant}/${net.name}/${vm.name}`;
  st.vm = vm;
  st.ctx = ctx;
  if (key !== st.key || !container.contains(st.parts && st.parts.head)) {
    st.key = key;
    st.base = `/v1/tenants/${seg(net.tenant)}/networks/${seg(net.name)}/vms/${seg(vm.name)}`;
    st.snaps = [];
    st.migs = [];
    st.loaded = false;
    st.tick = 0;
    container.replaceChildren(...skeleton());
    container.dataset.vm = vm.name;
    renderAll();
    refresh(true);
    return;
  }
  renderAll();
}

// Once a second from app.js's poll.
export async function lifecycleTick() {
  if (!st.key) return;
  st.tick++;
  if (inFlight() || st.tick % IDLE_EVERY === 0) await refresh(false);
}

export function closeVmDetail() {
  st.key = null;
  st.base = null;
  st.vm = null;
  st.parts = null;
  st.snaps = [];
  st.migs = [];
  const box = $('vm-detail');
  if (box) { box.replaceChildren(); delete box.dataset.vm; }
}
