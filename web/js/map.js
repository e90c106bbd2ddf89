// map.js: the clouds view, an SVG equirectangular "world" with each cloud
// placed by its jurisdiction (rough country centroids below; unknown codes go
// on a fallback ring in the South Pacific), its gateway as a badge, and the
// inter-cloud links as edges labelled with their cost, and, for an
// administrator, the skyvisord instance owning each cloud (its lease, from
// instances.js) under the gateway.  Pure function of the data: same input,
// same picture.

import { s, stateOf, tip } from './dom.js';

const W = 1000, H = 500;

// ISO 3166-1 alpha-2 -> [lon, lat], rough centroids of common jurisdictions.
const PLACES = {
  US: [-97, 39], CA: [-106, 56], MX: [-102, 23], BR: [-51, -10], AR: [-64, -34],
  CL: [-71, -33], CO: [-74, 4], GB: [-2, 54], IE: [-8, 53], FR: [2, 46.5],
  DE: [10, 51], NL: [5.3, 52.2], BE: [4.5, 50.6], LU: [6.1, 49.7], CH: [8.2, 46.8],
  AT: [14.5, 47.5], IT: [12.5, 42.8], ES: [-3.7, 40.2], PT: [-8.2, 39.6],
  DK: [9.5, 56], NO: [9, 61], SE: [15, 62], FI: [26, 64], PL: [19.4, 52],
  CZ: [15.5, 49.8], GR: [22, 39], RO: [25, 46], UA: [31, 49], TR: [35, 39],
  RU: [60, 57], IL: [35, 31.5], AE: [54, 24], SA: [45, 24], QA: [51.2, 25.3],
  BH: [50.5, 26], EG: [30, 27], ZA: [24, -29], NG: [8, 9.5], KE: [38, 0.5],
  IN: [79, 22], SG: [103.8, 1.35], MY: [102, 4], ID: [117, -2], TH: [101, 15],
  VN: [106, 16], PH: [122, 12], HK: [114.2, 22.3], TW: [121, 23.7], CN: [104, 35],
  KR: [128, 36], JP: [138, 36], AU: [134, -25], NZ: [172, -41],
};

// Very coarse continent outlines, [lon, lat] rings: a backdrop, not geography.
const LAND = [
  [[-165, 68], [-140, 70], [-95, 72], [-65, 60], [-55, 50], [-80, 25], [-97, 17], [-83, 8],
    [-105, 20], [-117, 32], [-125, 48], [-150, 60]],
  [[-80, 10], [-60, 8], [-35, -7], [-40, -22], [-58, -38], [-70, -54], [-75, -40], [-72, -18],
    [-81, -5]],
  [[-10, 36], [-9, 44], [-2, 48], [-5, 58], [10, 62], [20, 70], [40, 68], [45, 45], [28, 41],
    [15, 38], [3, 42]],
  [[-17, 15], [-8, 35], [10, 37], [32, 31], [43, 12], [51, 11], [40, -15], [32, -28],
    [20, -35], [12, -18], [9, 4], [-8, 5]],
  [[40, 68], [70, 73], [110, 77], [180, 68], [160, 58], [140, 50], [122, 40], [121, 30],
    [108, 20], [104, 2], [97, 17], [80, 8], [72, 20], [57, 25], [48, 30], [35, 35], [45, 45]],
  [[114, -22], [122, -18], [131, -12], [142, -11], [153, -27], [146, -39], [135, -34],
    [115, -34]],
];

// The visible window [lon0, lat1] .. [lon1, lat0], fitted to the clouds by
// frame() before each drawing (equirectangular, 2:1 like the canvas).
let win = { lon0: -180, lon1: 180, lat0: -90, lat1: 90 };

function project([lon, lat]) {
  return [((lon - win.lon0) / (win.lon1 - win.lon0)) * W, ((win.lat1 - lat) / (win.lat1 - win.lat0)) * H];
}

// Zoom on the clouds' jurisdictions: their bounding box plus a margin, at
// least 90 degrees wide, 2:1, clamped to the world.
function frame(clouds) {
  const pts = clouds.map(c => PLACES[(c.jurisdiction || '').toUpperCase()]).filter(Boolean);
  if (pts.length < clouds.length) pts.push([-140, -30]); // the fallback ring
  if (!pts.length) { win = { lon0: -180, lon1: 180, lat0: -90, lat1: 90 }; return; }
  const lons = pts.map(p => p[0]), lats = pts.map(p => p[1]);
  let w = Math.max(90, Math.max(...lons) - Math.min(...lons) + 60);
  let hgt = Math.max(...lats) - Math.min(...lats) + 40;
  if (w < 2 * hgt) w = 2 * hgt; else hgt = w / 2;
  w = Math.min(w, 360); hgt = Math.min(hgt, 180);
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  const cx = clamp((Math.max(...lons) + Math.min(...lons)) / 2, -180 + w / 2, 180 - w / 2);
  const cy = clamp((Math.max(...lats) + Math.min(...lats)) / 2, -90 + hgt / 2, 90 - hgt / 2);
  win = { lon0: cx - w / 2, lon1: cx + w / 2, lat0: cy - hgt / 2, lat1: cy + hgt / 2 };
}

// Positions for clouds: by jurisdiction, spread when several share a country.
function layout(clouds) {
  const pos = new Map();
  const byPlace = new Map();
  const unknown = [];
  for (const c of clouds) {
    const ll = PLACES[(c.jurisdiction || '').toUpperCase()];
    if (!ll) { unknown.push(c); continue; }
    const key = ll.join(',');
    if (!byPlace.has(key)) byPlace.set(key, []);
    byPlace.get(key).push(c);
  }
  for (const [key, group] of byPlace) {
    const [x, y] = project(key.split(',').map(Number));
    group.forEach((c, i) => {
      if (group.length === 1) { pos.set(c.name, [x, y]); return; }
      const a = (2 * Math.PI * i) / group.length;
      pos.set(c.name, [x + 26 * Math.cos(a), y + 26 * Math.sin(a)]);
    });
  }
  const [cx, cy] = project([-140, -30]);
  unknown.forEach((c, i) => {
    const a = (2 * Math.PI * i) / Math.max(unknown.length, 1) - Math.PI / 2;
    const r = unknown.length === 1 ? 0 : 60;
    pos.set(c.name, [cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  });
  return pos;
}

// A cloud's owner for its hover text (null when the owners are unknown).
function ownerText(own) {
  if (!own) return null;
  const who = own.holderName || 'a departed instance';
  if (own.lease === 'expired') return `lease expired (last held by ${who}, epoch ${own.epoch})`;
  return `owned by ${who}${own.alive ? '' : ' (heartbeat stale)'}, epoch ${own.epoch}`;
}

// The inter-cloud tunnels of GET /v1/topology with the given role (tree:
// the overlay's; backup: mst+backup's detours) as cloud-name pairs "a|b"
// (a < b).
function tunnelPairs(topology, role = 'tree') {
  const pairs = new Set();
  if (!topology) return pairs;
  const cloudOf = new Map(topology.bridges.map(b => [b.host, b.cloud]));
  for (const t of topology.tunnels) {
    if (t.kind !== 'inter-cloud' || (t.role || 'tree') !== role) continue;
    const ends = [cloudOf.get(t.a), cloudOf.get(t.b)].sort();
    if (ends[0] && ends[1]) pairs.add(ends.join('|'));
  }
  return pairs;
}

// The liveness of the tunnels of each cloud pair "a|b": { state, down, n }
// with state "down" when all its n tunnels are down, "degraded" when some
// are (two gateways per cloud give a pair up to four: the others carry its
// traffic), "up" when one is up and none down, else "unknown".
function tunnelStates(topology) {
  const out = new Map();
  if (!topology) return out;
  const cloudOf = new Map(topology.bridges.map(b => [b.host, b.cloud]));
  for (const t of topology.tunnels) {
    if (t.kind !== 'inter-cloud') continue;
    const pair = [cloudOf.get(t.a), cloudOf.get(t.b)].sort().join('|');
    const e = out.get(pair) || { down: 0, up: 0, n: 0 };
    e.n++;
    e.down += t.state === 'down';
    e.up += t.state === 'up';
    out.set(pair, e);
  }
  for (const e of out.values()) {
    e.state = e.down === e.n ? 'down' : e.down ? 'degraded' : e.up ? 'up' : 'unknown';
  }
  return out;
}

// Returns a fresh <svg> for clouds (with .gateway), links (cloud_a/cloud_b/cost)
// and, when known, the physical topology: the cloud pairs joined by a
// gateway tunnel are drawn solid (class in-tree), those joined by a backup
// tunnel (layout mst+backup) dotted (class backup), including pairs with no
// declared link (default cost 1); the other links stay dashed.  A pair
// whose tunnels BFD reports down is drawn red (class down, data-state;
// degraded, dashed red, when some of its tunnels still run), and the
// reconciler's failover and recovery counts (topology.failovers,
// .recoveries) are written under the map (text.wan-counts).  owners
// (instances.js cloudOwners(): cloud name -> { lease, holderName, address,
// epoch, alive }) labels each leased cloud with its owner's API address
// and marks an expired lease or a stale owner; empty for tenants.
export function renderMap(clouds, links, topology = null, owners = new Map()) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'map', role: 'img',
    'aria-label': `Map of ${clouds.length} clouds and ${links.length} inter-cloud links` +
      (topology ? `, ${tunnelPairs(topology).size} gateway tunnels and ${tunnelPairs(topology, 'backup').size}`
        + ` backup tunnels (${topology.layout})` : '') });
  frame(clouds);
  svg.append(s('rect', { x: 0, y: 0, width: W, height: H, class: 'sea' }));
  for (let lon = -165; lon <= 165; lon += 15) {
    const [x] = project([lon, 0]);
    svg.append(s('line', { x1: x, y1: 0, x2: x, y2: H, class: 'graticule' }));
  }
  for (let lat = -75; lat <= 75; lat += 15) {
    const [, y] = project([0, lat]);
    svg.append(s('line', { x1: 0, y1: y, x2: W, y2: y, class: 'graticule' }));
  }
  for (const ring of LAND) {
    svg.append(s('polygon', { class: 'land', points: ring.map(p => project(p).join(',')).join(' ') }));
  }
  const pos = layout(clouds);
  const tree = tunnelPairs(topology);
  const backup = tunnelPairs(topology, 'backup');
  const states = tunnelStates(topology);
  const down = [...states.values()].reduce((k, e) => k + e.down, 0);
  const edges = s('g', { class: 'cloud-links', 'data-layout': topology ? topology.layout : '',
    'data-tunnels': String(tree.size), 'data-backups': String(backup.size), 'data-down': String(down) });
  const drawn = new Set();
  const all = links.map(l => ({ ...l, declared: true }));
  for (const pair of [...tree, ...backup]) {
    const [ca, cb] = pair.split('|');
    if (!links.some(l => [l.cloud_a, l.cloud_b].sort().join('|') === pair)) {
      all.push({ cloud_a: ca, cloud_b: cb, cost: 1, declared: false });
    }
  }
  for (const l of all) {
    const a = pos.get(l.cloud_a), b = pos.get(l.cloud_b);
    if (!a || !b) continue;
    const pair = [l.cloud_a, l.cloud_b].sort().join('|');
    if (drawn.has(pair)) continue;
    drawn.add(pair);
    const inTree = tree.has(pair), isBackup = !inTree && backup.has(pair);
    // A gentle arc so overlapping straight links stay distinguishable.
    const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2 - 0.15 * Math.hypot(b[0] - a[0], b[1] - a[1]);
    const extra = [l.rtt_ms != null ? `rtt ${l.rtt_ms} ms` : null,
      l.bandwidth_mbps != null ? `${l.bandwidth_mbps} Mbit/s` : null].filter(Boolean).join(', ');
    const ts = inTree || isBackup ? states.get(pair) || { state: 'unknown', down: 0, n: 0 } : null;
    const st = ts && ts.state;
    const tunnel = (inTree ? ' · gateway tunnel' : isBackup ? ' · backup tunnel (detours only)'
      : (topology ? ' · no tunnel' : ''))
      + (st === 'down' ? (inTree ? ' · DOWN (BFD): traffic on its detour' : ' · DOWN (BFD)')
        : st === 'degraded' ? ` · ${ts.down} of ${ts.n} tunnels DOWN (BFD): the others carry it`
          : st ? ` · ${st}` : '');
    edges.append(s('g', { class: `cloud-link${inTree ? ' in-tree' : ''}${isBackup ? ' backup' : ''}`
      + `${st === 'down' || st === 'degraded' ? ` ${st}` : ''}`, 'data-a': l.cloud_a, 'data-b': l.cloud_b,
    'data-tunnel': inTree ? 'yes' : isBackup ? 'backup' : 'no', 'data-state': st },
      s('title', {}, `${l.cloud_a} ↔ ${l.cloud_b}: cost ${l.cost}${l.declared ? '' : ' (default)'}` +
        `${extra ? ` (${extra})` : ''}${tunnel}`),
      s('path', { d: `M${a[0]},${a[1]} Q${mx},${my} ${b[0]},${b[1]}`, class: 'link-path' }),
      s('text', { x: (a[0] + 2 * mx + b[0]) / 4, y: (a[1] + 2 * my + b[1]) / 4 - 4,
        class: 'link-label', 'text-anchor': 'middle' }, `cost ${l.cost}`)));
  }
  svg.append(edges);
  if (topology && topology.failovers != null) {
    svg.append(s('text', { x: 12, y: H - 12, class: 'wan-counts', 'data-failovers': String(topology.failovers),
      'data-recoveries': String(topology.recoveries ?? 0) },
    `tunnels down now ${down} · failovers ${topology.failovers} · recoveries ${topology.recoveries ?? 0}`
      + ' (BFD, per tunnel end)'));
  }
  const nodes = s('g', { class: 'clouds' });
  for (const c of clouds) {
    const [x, y] = pos.get(c.name);
    const st = stateOf(c);
    const gw = c.gateway;
    const g = s('g', { class: `cloud state-${st}`, 'data-kind': 'cloud', 'data-name': c.name,
      'data-state': st, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` },
    s('title', {}, tip('cloud', c, [`${c.provider} ${c.region} (${c.jurisdiction}, ${c.kind})`,
      gw ? `gateway ${gw.name} ${gw.public_ip || ''}` : 'no gateway', ownerText(owners.get(c.name))]
      .filter(Boolean))),
    s('circle', { r: 13, class: 'cloud-dot' }),
    s('text', { y: -20, class: 'cloud-label', 'text-anchor': 'middle' }, c.name),
    s('text', { y: 4, class: 'cloud-kind', 'text-anchor': 'middle' }, c.jurisdiction || '?'));
    if (gw) {
      g.append(s('g', { class: 'gateway', 'data-kind': 'gateway', 'data-name': gw.name },
        s('title', {}, `gateway ${gw.name} (${gw.public_ip || 'no public ip'})`),
        s('rect', { x: -(6 + 3.3 * gw.name.length), y: 19, width: 12 + 6.6 * gw.name.length,
          height: 17, rx: 4, class: 'gw-badge' }),
        s('text', { y: 31, class: 'gw-label', 'text-anchor': 'middle' }, gw.name)));
    }
    const own = owners.get(c.name);
    if (own) {
      g.setAttribute('data-owner', own.holder || '');
      g.setAttribute('data-epoch', String(own.epoch));
      g.setAttribute('data-lease', own.lease);
      const label = own.lease === 'expired' ? 'lease expired'
        : `${own.address || own.holderName || '?'}${own.alive ? '' : ' (stale)'}`;
      g.append(s('text', { y: gw ? 50 : 32, 'text-anchor': 'middle',
        class: `owner-label${own.lease === 'expired' || !own.alive ? ' owner-bad' : ''}` }, `▸ ${label}`));
    }
    nodes.append(g);
  }
  svg.append(nodes);
  return svg;
}
