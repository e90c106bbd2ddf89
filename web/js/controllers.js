// controllers.js: the selected network's virtual switches and their tenant
// controllers (README "Tenant controllers"): each switch's `controller`
// (tcp:IP:PORT or ssl:IP:PORT, or none: the platform forwards) and
// `fail_mode`, and the tenant's `controller_allow`, the prefixes its
// controllers must lie in.
//
// Editing follows the API's rights: a switch's controller and fail mode
// with the session's token (PATCH .../switches/{s}: the tenant or the
// admin), controller_allow by the admin only (PATCH /v1/tenants/{t}); a
// tenant sees its list read-only.  The panel is built once per network
// (like lifecycle.js's, so a poll's re-render never wipes what is being
// typed); each render updates only the texts that show current values.  A
// refusal (problem+json: 422 controller-not-allowed, 409 conflict, 400)
// stays in the panel's alert until the next save.

import { apiSend, ApiProblem, seg } from './api.js';
import { h } from './dom.js';

const st = { key: null, box: null, alert: null, allow: null, switches: new Map() };

function problemText(err) {
  return err instanceof ApiProblem ? `${err.title} (HTTP ${err.status}): ${err.detail}`
    : String(err.message || err);
}

// Runs a save, shows its refusal in the alert, then asks for a refresh.
async function save(button, fn, refresh) {
  button.disabled = true;
  st.alert.hidden = true;
  try {
    await fn();
    await refresh();
  } catch (err) {
    st.alert.textContent = problemText(err);
    st.alert.hidden = false;
  } finally {
    button.disabled = false;
  }
}

function allowText(list) {
  return list && list.length ? list.join(', ') : 'none (no switch may name a controller)';
}

// The tenant's controller_allow: a text, and for the admin a form.
function allowPart(tenant, admin, refresh) {
  const cur = h('span', { class: 'ctl-allow-now', 'data-allow': '' });
  const part = h('p', { class: 'ctl-allow' }, `Tenant ${tenant.name}: controllers allowed in `, cur);
  let input = null;
  if (admin) {
    input = h('input', { type: 'text', class: 'ctl-allow-input', 'aria-label': 'controller_allow',
      placeholder: 'e.g. 10.9.0.0/16, 192.0.2.0/24' });
    const btn = h('button', { type: 'submit', class: 'btn btn-small' }, 'Save');
    const form = h('form', { class: 'ctl-form ctl-allow-form' }, input, btn);
    form.addEventListener('submit', e => {
      e.preventDefault();
      const list = input.value.split(/[\s,]+/).filter(Boolean);
      save(btn, () => apiSend('PATCH', `/v1/tenants/${seg(tenant.name)}`, { controller_allow: list }),
        refresh);
    });
    part.append(form);
  }
  return { part, cur, input };
}

// One switch: its controller and fail mode, and a form for both.
function switchPart(net, sw, refresh) {
  const cur = h('span', { class: 'ctl-now' });
  const ctl = h('input', { type: 'text', class: 'ctl-input', 'aria-label': `controller of ${sw.name}`,
    placeholder: 'tcp:IP:PORT or ssl:IP:PORT; empty: none' });
  const mode = h('select', { class: 'ctl-mode', 'aria-label': `fail mode of ${sw.name}` },
    h('option', { value: 'secure' }, 'secure'), h('option', { value: 'standalone' }, 'standalone'));
  const btn = h('button', { type: 'submit', class: 'btn btn-small' }, 'Save');
  const form = h('form', { class: 'ctl-form' }, ctl, mode, btn);
  const url = `/v1/tenants/${seg(net.tenant)}/networks/${seg(net.name)}/switches/${seg(sw.name)}`;
  form.addEventListener('submit', e => {
    e.preventDefault();
    const c = ctl.value.trim();
    save(btn, () => apiSend('PATCH', url, c ? { controller: c, fail_mode: mode.value }
      : { controller: null, fail_mode: null }), refresh);
  });
  const li = h('li', { class: 'ctl-switch', 'data-switch': sw.name }, h('strong', {}, sw.name), ' ', cur, form);
  return { li, cur, ctl, mode, seen: null };
}

function switchText(sw) {
  return sw.controller ? `controller ${sw.controller}, fail mode ${sw.fail_mode || 'secure'}`
    : 'no controller: the platform forwards';
}

// Fills 'container' for network 'net' of tenant object 'tenant'; 'refresh'
// is awaited after a successful save (the app's poll).
export function renderControllers(container, net, tenant, admin, refresh) {
  const key = net ? `${net.tenant}/${net.name}/${admin ? 'a' : 't'}` : null;
  if (!net || !tenant) {
    st.key = null;
    container.replaceChildren(h('p', { class: 'hint' }, 'Select a network.'));
    return;
  }
  if (st.key !== key) {
    st.key = key;
    st.alert = h('p', { class: 'problem ctl-alert', role: 'alert', hidden: true });
    st.allow = allowPart(tenant, admin, refresh);
    st.switches = new Map();
    st.list = h('ul', { class: 'ctl-switches' });
    st.box = h('div', { class: 'ctl-panel', 'data-net': `${net.tenant}/${net.name}` },
      st.allow.part, st.list, st.alert);
  }
  const allow = tenant.controller_allow || [];
  st.allow.cur.textContent = allowText(allow);
  st.allow.cur.dataset.allow = allow.join(',');
  if (st.allow.input && st.allow.seen !== allow.join(',')) {
    st.allow.seen = allow.join(',');
    st.allow.input.value = allow.join(', ');
  }
  const rows = [];
  for (const sw of [...net.switches].sort((a, b) => a.name.localeCompare(b.name))) {
    let p = st.switches.get(sw.name);
    if (!p) {
      p = switchPart(net, sw, refresh);
      st.switches.set(sw.name, p);
    }
    p.cur.textContent = switchText(sw);
    p.li.dataset.controller = sw.controller || '';
    p.li.dataset.failMode = sw.fail_mode || '';
    const now = `${sw.controller || ''}|${sw.fail_mode || ''}`;
    if (p.seen !== now) {   // the form shows the stored value until edited
      p.seen = now;
      p.ctl.value = sw.controller || '';
      p.mode.value = sw.fail_mode || 'secure';
    }
    rows.push(p.li);
  }
  st.list.replaceChildren(...rows);
  if (container.firstChild !== st.box) container.replaceChildren(st.box);
}
