/**
 * The dashboard's shared browser code: DOM building (text only ever goes in as text nodes or attribute
 * values, never as markup: what hosts report is untrusted), the API client with the stored token, and
 * the small formatters. Plain browser JavaScript, concatenated with the other parts into the page's one
 * <script> block (allowed by hash in the CSP). No template literals in the browser code: each part is
 * itself one, and a part whose code holds a backslash (`'\n'`) is a String.raw one so it reaches the
 * browser as written.
 */
export const SCRIPT_CORE = `
const $ = (id) => document.getElementById(id);
// h('td', {class: 'mono'}, 'text', node, ...): attributes by setAttribute, children as text nodes or nodes.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null && c !== false) el.append(typeof c === 'object' ? c : String(c));
  return el;
}
const txt = (v) => (v === undefined || v === null || v === '' ? '-' : String(v));
const pill = (s) => h('span', { class: 'pill ' + String(s) }, txt(s));
const short = (sha) => (sha ? String(sha).slice(0, 10) : '-');
const ago = (t) => {
  if (!t) return '-';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
  return s < 60 ? s + 's ago' : s < 3600 ? Math.round(s / 60) + 'm ago' : Math.round(s / 3600) + 'h ago';
};
const hostLink = (id, label) => h('a', { href: '#/hosts/' + encodeURIComponent(id), class: 'mono' }, txt(label ?? id));
// A table from a header row and rows of cells; a cell is a node or text.
function table(el, head, rows, empty) {
  const cell = (c) => (c && typeof c === 'object' && c.tagName === 'TD' ? c : h('td', {}, c));
  const body = rows.length ? rows.map((r) => h('tr', {}, ...r.map(cell))) : [h('tr', {}, h('td', { class: 'muted', colspan: head.length }, empty || 'none'))];
  el.replaceChildren(h('tr', {}, ...head.map((x) => h('th', {}, x))), ...body);
}
const td = (v, cls) => h('td', cls ? { class: cls } : {}, v);
function token() { return localStorage.getItem('gseToken'); }
async function get(path) {
  const res = await fetch('/api/v1/' + path, { headers: { authorization: 'Bearer ' + token() } });
  if (res.status === 401) { showLogin(); throw new Error('unauthorized'); }
  const body = await res.json();
  if (!res.ok) throw new Error((body && body.error && body.error.message) || 'HTTP ' + res.status);
  return body;
}
function showLogin() { $('login').hidden = false; $('main').hidden = true; }
`;
