// dom.js: tiny DOM builders.  Text always goes through textContent (never
// innerHTML), so names coming from the API cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  }
  return node;
}

// h('li', {class: 'x'}, 'text', child...) -> HTMLElement
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s('circle', {r: 4}, s('title', {}, 'hover text')) -> SVGElement
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function stateOf(obj) {
  return (obj && obj.status && obj.status.state) || 'pending';
}

// Hover text for an object: "kind name — state: detail".
export function tip(kind, obj, extra) {
  const st = obj.status || {};
  const lines = [`${kind} ${obj.name}`, `state: ${st.state || 'pending'}`];
  if (st.detail) lines.push(`detail: ${st.detail}`);
  if (extra) lines.push(...extra);
  return lines.join('\n');
}
