/**
 * The dashboard's overview (`#/`): hosts by sync state, the applied and last rejected revision with its
 * errors, targets' health and spool, the plots, the host list, recent drift and executions. Browser code,
 * see script-core.ts.
 */
export const SCRIPT_OVERVIEW = String.raw`
const SYNC_STATES = ['Synced', 'OutOfSync', 'Progressing', 'Failed', 'Unknown'];
async function renderOverview() {
  const [status, hosts, drift, execs, targets] = await Promise.all([get('status'), get('hosts?limit=200'), get('drift?limit=15'), get('executions?limit=15'), get('targets')]);
  const by = (status.hosts && status.hosts.bySyncState) || {};
  $('counts').replaceChildren(...SYNC_STATES.map((k) => h('div', { class: 'count', id: 'count-' + k }, pill(k), h('b', {}, String(by[k] ?? 0)))));
  $('total').textContent = (status.hosts ? status.hosts.total : 0) + ' hosts, ' + (status.hosts ? status.hosts.connected : 0) + ' connected';
  const applied = status.revision && status.revision.applied;
  $('applied').replaceChildren(applied ? h('p', {}, 'Applied ', h('b', { class: 'mono', id: 'applied-sha' }, short(applied.sha)), ' ' + txt(applied.message) + ' · ' + txt(applied.author)) : h('p', { class: 'muted' }, 'no revision applied yet'));
  const rej = status.revision && status.revision.lastRejected;
  $('rejected').replaceChildren(...(rej ? [
    h('p', {}, h('b', {}, 'Rejected ', h('span', { class: 'mono' }, short(rej.sha))), ' ' + txt(rej.message)),
    h('div', { class: 'errors' }, rej.errors.map((e) => e.file + ':' + e.line + ':' + e.col + ': ' + (e.path ? e.path + ': ' : '') + e.message).join('\n')),
  ] : []));
  table($('targets'), ['target', 'type', 'state', 'connected', 'spool', 'lag', 'last error'], (targets.items || []).map((t) => [
    td(t.name, 'mono'), t.type, t.state, t.connected ? 'yes' : h('b', {}, 'no'), td(String(t.spoolDepth), 'mono'), t.lagMs ? Math.round(t.lagMs / 1000) + 's' : '-', td(t.lastError ?? '', 'wrap'),
  ]), 'no targets');
  table($('hosts'), ['host', 'state', 'ips', 'labels', 'revision', 'last seen'], (hosts.items || []).map((x) => [
    td(hostLink(x.hostId, x.name)), td(pill(x.syncState)), td(x.ips.join(' '), 'mono'), td(Object.entries(x.labels).map(([k, v]) => k + '=' + v).join(' '), 'mono'), td(short(x.revision), 'mono'), ago(x.lastSeen),
  ]), 'no hosts yet');
  table($('drift'), ['when', 'host', 'resource', 'kind', 'healed'], (drift.items || []).map((d) => [ago(d.detectedAt), td(hostLink(d.hostId)), td(d.key, 'mono'), td(pill(d.kind)), d.healed ? 'yes' : h('b', {}, 'no')]), 'no drift');
  table($('execs'), ['when', 'host', 'reason', 'status', 'exit'], (execs.items || []).map((e) => [ago(e.startedAt), td(hostLink(e.hostId)), td(e.reason, 'mono'), td(pill(e.status)), txt(e.exitCode)]), 'no executions');
  renderPlots();
}
`;
