// topology.js: one tenant network drawn as an SVG graph.  Deterministic
// layout: switches (sorted by name) evenly on a circle, links as straight
// edges between them, each switch's VMs on a small arc around it, pointing
// away from the centre.  Every element carries data-kind/data-name and a
// state-<pending|realized|error> class, and an SVG <title> for hover detail.

import { s, stateOf, tip } from './dom.js';

const W = 760, H = 500, CX = W / 2, CY = H / 2;

// A VM's name, IP and detail (an error's cause, or a realized VM's note,
// such as the down tunnel its traffic detours around): below its box, or
// above it when the VM sits above its switch (so the attachment line does
// not cross the text).
function vmLabels(vm, st, x, y, above) {
  const lines = [['node-label', vm.name], ['node-sub', vm.ip]];
  // A long detail is cut (the <title> hover text has it whole): the drawing
  // is only as wide as its nodes.
  const d = vm.status.detail || '';
  if ((st === 'error' || st === 'realized') && d) {
    lines.push([st === 'error' ? 'node-err' : 'node-note', d.length > 44 ? `${d.slice(0, 43)}…` : d]);
  }
  if (above) lines.reverse();
  const y0 = above ? y - 18 - 13 * (lines.length - 1) : y + 26;
  return lines.map(([cls, text], i) => s('text', { x, y: y0 + 13 * i, 'text-anchor': 'middle', class: cls }, text));
}

export function renderTopology(net) {
  const switches = [...net.switches].sort((a, b) => a.name.localeCompare(b.name));
  const n = switches.length;
  const R = n <= 1 ? 0 : Math.min(170, 60 + 30 * n);
  const pos = new Map();
  switches.forEach((sw, i) => {
    const a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
    pos.set(sw.name, [CX + R * Math.cos(a), CY + R * Math.sin(a), a]);
  });
  // The viewBox is the drawing's bounding box (labels included), at least W x H.
  let x0 = CX - W / 2, y0 = CY - H / 2, x1 = CX + W / 2, y1 = CY + H / 2;
  const grow = (x, y) => {
    x0 = Math.min(x0, x - 70); x1 = Math.max(x1, x + 70);
    y0 = Math.min(y0, y - 64); y1 = Math.max(y1, y + 64);
  };
  const svg = s('svg', { class: 'topology', role: 'img',
    'aria-label': `Topology of ${net.tenant}/${net.name}: ${n} switches, ${net.links.length} links, ${net.vms.length} VMs` });
  const gl = s('g', { class: 'links' });
  for (const l of net.links) {
    const a = pos.get(l.a), b = pos.get(l.b);
    if (!a || !b) continue;
    const st = stateOf(l);
    gl.append(s('g', { class: `link state-${st}`, 'data-kind': 'link', 'data-name': l.name, 'data-state': st },
      s('title', {}, tip('link', l, [`${l.a} — ${l.b}`])),
      s('line', { x1: a[0], y1: a[1], x2: b[0], y2: b[1] })));
  }
  svg.append(gl);
  const gv = s('g', { class: 'vms' });
  const bySwitch = new Map();
  for (const vm of [...net.vms].sort((x, y) => x.name.localeCompare(y.name))) {
    if (!bySwitch.has(vm.switch)) bySwitch.set(vm.switch, []);
    bySwitch.get(vm.switch).push(vm);
  }
  for (const [swName, vms] of bySwitch) {
    const p = pos.get(swName);
    if (!p) continue;
    const out = n <= 1 ? Math.PI / 2 : p[2];
    const spread = Math.min(Math.PI * 1.4, 0.9 * (vms.length - 1));
    vms.forEach((vm, i) => {
      const a = out - spread / 2 + (vms.length > 1 ? (spread * i) / (vms.length - 1) : 0);
      const x = p[0] + 115 * Math.cos(a), y = p[1] + 115 * Math.sin(a);
      grow(x, y);
      const st = stateOf(vm);
      gv.append(s('g', { class: `vm state-${st}`, 'data-kind': 'vm', 'data-name': vm.name, 'data-state': st },
        s('title', {}, tip('vm', vm, [`${vm.ip} ${vm.mac}`, `switch ${vm.switch}`,
          vm.host ? `host ${vm.host} (${vm.cloud})` : 'not placed'])),
        s('line', { x1: p[0], y1: p[1], x2: x, y2: y, class: 'attach' }),
        s('rect', { x: x - 11, y: y - 11, width: 22, height: 22, rx: 4, class: 'vm-box' }),
        ...vmLabels(vm, st, x, y, y < p[1] - 1)));
    });
  }
  svg.append(gv);
  const gs = s('g', { class: 'switches' });
  for (const sw of switches) {
    const [x, y] = pos.get(sw.name);
    const st = stateOf(sw);
    gs.append(s('g', { class: `switch state-${st}`, 'data-kind': 'switch', 'data-name': sw.name, 'data-state': st },
      s('title', {}, tip('switch', sw)),
      s('circle', { cx: x, cy: y, r: 22, class: 'switch-dot' }),
      s('text', { x, y: y + 4, 'text-anchor': 'middle', class: 'switch-label' }, sw.name)));
  }
  svg.append(gs);
  svg.setAttribute('viewBox', `${x0} ${y0} ${x1 - x0} ${y1 - y0}`);
  return svg;
}
