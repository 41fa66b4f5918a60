// DOM helpers. Text always goes in as text nodes, never as HTML: names, addresses and
// error messages come from the API and must not become markup.

// h builds an element: h('td', {class: 'num', title: 'x'}, 'text', child, ...). Attributes
// starting with "on" are listeners; null and false children are skipped.
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(e.style, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// fill replaces an element's children.
export function fill(e, ...children) {
  e.replaceChildren();
  append(e, children);
}

export const $ = (id) => document.getElementById(id);

// table builds a table from a header row and rows of cells; a cell that is a number is
// right-aligned.
export function table(caption, head, rows) {
  return h('table', null,
    caption ? h('caption', { class: 'muted small' }, caption) : null,
    h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col', class: typeof c === 'object' ? c.class : null }, typeof c === 'object' ? c.text : c)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', { class: typeof c === 'number' ? 'num' : null }, c))))));
}

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n) {
  if (n === undefined || n === null) return '–';
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return (n < 0 ? '−' : '') + (u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[u];
}

export function num(n, digits = 4) {
  if (n === undefined || n === null) return '–';
  return Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(digits);
}

export function when(t) {
  if (!t) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

export function duration(s) {
  if (s === undefined || s === null) return '–';
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

// progress is an accessible progress bar with its text beside it.
export function progress(value, max, text) {
  const p = h('progress', { max: Math.max(max, 1), value: Math.min(value, Math.max(max, 1)), 'aria-label': text });
  return h('span', null, p, ' ', text);
}
