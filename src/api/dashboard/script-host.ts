/**
 * The dashboard's host page (`#/hosts/ID`): facts, per-resource state, the content diff (the same
 * GET /api/v1/diff that `gsectl diff` reads), the drift timeline and the executions with their output.
 * Browser code, see script-core.ts.
 */
export const SCRIPT_HOST = String.raw`
function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs) dl.append(h('dt', {}, k), h('dd', {}, txt(v)));
  return dl;
}
// A unified diff, one line element each, coloured by its first character.
function diffBlock(text) {
  const pre = h('pre', { class: 'diff' });
  for (const line of String(text).split('\n')) {
    const cls = line.startsWith('@@') ? 'hunk' : line.startsWith('+') && !line.startsWith('+++') ? 'add' : line.startsWith('-') && !line.startsWith('---') ? 'del' : undefined;
    pre.append(h('span', cls ? { class: cls } : {}, line), '\n');
  }
  return pre;
}
async function renderHost(id) {
  const [view, diff] = await Promise.all([get('hosts/' + encodeURIComponent(id)), get('diff?host=' + encodeURIComponent(id))]);
  const x = view.host, s = view.session;
  $('host-title').textContent = x.name + (x.name !== x.hostId ? ' (' + x.hostId + ')' : '');
  $('host-state').replaceChildren(pill(x.syncState), ' ', s ? 'connected ' + ago(s.connectedAt) + ' from ' + s.remoteAddress : 'not connected', ' · revision ', h('span', { class: 'mono' }, short(x.revision)));
  $('host-facts').replaceChildren(facts([
    ['host id', x.hostId], ['ips', x.ips.join(' ')], ['cloud id', x.cloudId], ['os', x.os], ['agent version', x.agentVersion],
    ['labels', Object.entries(x.labels).map(([k, v]) => k + '=' + v).join(' ')], ['first seen', x.firstSeen], ['last seen', x.lastSeen], ['last report', x.lastReportAt],
    ...Object.entries(x.facts || {}).map(([k, v]) => ['fact ' + k, v]),
    ...(view.planErrors || []).map((e) => ['plan error', (e.resource ? e.resource + ': ' : '') + e.message]),
  ]));
  table($('host-resources'), ['resource', 'state', 'message', 'updated'], (view.resources || []).map((r) => [td(r.key, 'mono'), td(pill(r.state)), td(r.message ?? '', 'wrap'), ago(r.updatedAt)]), 'no resources');
  const pending = ((diff.items && diff.items[0] && diff.items[0].resources) || []);
  const diffs = $('host-diff');
  diffs.replaceChildren(...(pending.length ? pending.map((r) => h('div', { class: 'diff-item' },
    h('p', {}, h('b', { class: 'mono' }, r.key), ' ', pill(r.state)),
    ...(r.changes || []).map((c) => h('div', { class: 'mono' }, c)),
    r.diff ? diffBlock(r.diff) : null)) : [h('p', { class: 'muted' }, 'every resource is Synced: nothing differs')]));
  const tl = h('ul', { class: 'timeline', id: 'drift-timeline' });
  for (const d of view.drift || []) tl.append(h('li', { class: 'drift-record' },
    h('span', { class: 'muted' }, txt(d.detectedAt) + ' (' + ago(d.detectedAt) + ') '), pill(d.kind), ' ', h('b', { class: 'mono' }, d.key),
    d.healed ? ' healed ' + ago(d.healedAt) : ' not healed', h('div', { class: 'mono' }, txt(d.detail))));
  $('host-drift').replaceChildren(tl.children.length ? tl : h('p', { class: 'muted' }, 'no drift recorded'));
  $('host-execs').replaceChildren(...(view.executions || []).map((e) => h('div', { class: 'execution' },
    h('p', {}, pill(e.status), ' ', h('b', { class: 'mono' }, e.reason), ' exit ' + txt(e.exitCode) + ' · ' + ago(e.startedAt) + (e.durationMs !== undefined ? ' · ' + e.durationMs + ' ms' : '') + (e.requestedBy ? ' · by ' + e.requestedBy : '')),
    h('div', { class: 'mono muted' }, '$ ' + txt(e.command)),
    e.stdoutTail ? h('pre', { class: 'stdout' }, e.stdoutTail) : null,
    e.stderrTail ? h('pre', { class: 'stderr' }, e.stderrTail) : null)));
  if (!(view.executions || []).length) $('host-execs').replaceChildren(h('p', { class: 'muted' }, 'no executions'));
}
`;
