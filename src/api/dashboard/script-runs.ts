/**
 * The dashboard's rollouts (`#/rollouts`) and remediation runs (`#/remediations`) views. Browser code,
 * see script-core.ts.
 */
export const SCRIPT_RUNS = `
// A rollout's phase as the operator reads it: running, paused (with why), done, or superseded (with why).
const ROLLOUT_STATE = { Progressing: 'running', Paused: 'paused', Completed: 'done', Superseded: 'superseded' };
function rolloutRow(v) {
  const r = v.rollout, c = v.counts || {}, total = (v.hosts || []).length;
  const state = ROLLOUT_STATE[r.phase] ?? r.phase;
  const why = r.phase === 'Paused' ? r.pauseReason : r.phase === 'Superseded' ? r.endReason : r.phase === 'Progressing' ? v.waiting : undefined;
  const bar = h('td', {}, h('progress', { max: total, value: c.upgraded ?? 0 }), ' ' + (c.upgraded ?? 0) + '/' + total);
  const counts = ['upgraded', 'upgrading', 'pending', 'failed', 'waiting'].map((k) => k + ' ' + (c[k] ?? 0)).join(' · ');
  return [td(r.name, 'mono'), td((r.fromVersion ?? '?') + ' → ' + r.version + (r.undo ? ' (undo)' : ''), 'mono'), h('td', {}, pill(state), ...(why ? [' ', h('span', { class: 'reason' }, why)] : [])), td(v.batch + '/' + v.batches), bar, td(counts)];
}
async function renderRollouts() {
  const rollouts = await get('rollouts');
  table($('rollouts'), ['rollout', 'version', 'state', 'batch', 'progress', 'hosts'], (rollouts.items || []).map(rolloutRow), 'no rollouts');
}
async function renderRemediations() {
  const execs = await get('executions?limit=200');
  const runs = (execs.items || []).filter((e) => e.remediation);
  table($('remediations'), ['when', 'host', 'remediation', 'event', 'decision', 'status', 'exit', 'output'], runs.map((e) => {
    const r = e.remediation;
    return [ago(e.finishedAt || e.startedAt), td(hostLink(e.hostId)), td(r.name, 'mono'), td(r.event.type + (r.event.resource ? ' ' + r.event.resource : ''), 'mono'),
      h('td', {}, r.decision, r.detail ? h('div', { class: 'muted' }, r.detail) : null), td(pill(e.status)), txt(e.exitCode), h('td', { class: 'wrap' }, e.stdoutTail ? h('pre', {}, e.stdoutTail) : null, e.stderrTail ? h('pre', { class: 'stderr' }, e.stderrTail) : null)];
  }), 'no remediation runs');
}
`;
