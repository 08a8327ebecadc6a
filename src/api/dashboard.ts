/**
 * The dashboard: one static page that reads the same JSON API as gsectl, with the token the user pastes
 * or opens it with (`/#token=...`), kept in the browser's localStorage and never sent in a URL to the
 * server. It refreshes every 2 s. No inline style attributes or handler attributes: the CSP allows only the
 * one <style> and one <script> block by hash (security-headers.ts).
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gse-gitops</title>
<style>
  :root { --fg:#1d2329; --muted:#67717c; --line:#e3e7eb; --bg:#f7f8fa; --ok:#1f8a4c; --warn:#b7791f; --bad:#c53030; --unk:#718096; --prog:#2b6cb0; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; align-items:center; gap:16px; padding:12px 24px; background:#fff; border-bottom:1px solid var(--line); }
  header h1 { font-size:17px; margin:0; }
  header .rev { color:var(--muted); font-family:ui-monospace, monospace; }
  main { padding:20px 24px; display:grid; gap:20px; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); }
  section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; overflow:auto; }
  section h2 { font-size:14px; margin:0 0 10px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { font-weight:600; color:var(--muted); font-size:12px; }
  td.mono, .mono { font-family:ui-monospace, monospace; font-size:12px; }
  .pill { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; }
  .Synced { background:var(--ok); } .OutOfSync { background:var(--warn); } .Failed { background:var(--bad); }
  .Unknown { background:var(--unk); } .Progressing { background:var(--prog); }
  .counts { display:flex; gap:10px; flex-wrap:wrap; }
  .count { padding:10px 14px; border-radius:6px; background:var(--bg); min-width:92px; }
  .count b { display:block; font-size:22px; }
  .errors { color:var(--bad); white-space:pre-wrap; font-family:ui-monospace, monospace; font-size:12px; }
  #login { display:none; padding:40px; text-align:center; }
  #login input { width:380px; padding:8px; font-family:ui-monospace, monospace; }
  .muted { color:var(--muted); }
  .wide { grid-column:1/-1; }
  .running { background:var(--prog); } .paused { background:var(--warn); } .done { background:var(--ok); } .superseded { background:var(--unk); }
  progress { width:140px; height:10px; vertical-align:middle; accent-color:var(--ok); }
  .reason { color:var(--bad); white-space:normal; }
</style>
</head>
<body>
<header><h1>gse-gitops</h1><span class="rev" id="rev">loading…</span><span class="muted" id="updated"></span></header>
<div id="login"><p>Paste an API token (the demo prints one).</p><input id="token" type="password" autofocus>
  <button id="save">Open</button></div>
<main id="main">
  <section><h2>Hosts by sync state</h2><div class="counts" id="counts"></div><div id="rejected"></div></section>
  <section><h2>Targets</h2><table id="targets"></table></section>
  <section class="wide"><h2>Rollouts</h2><table id="rollouts"></table></section>
  <section class="wide"><h2>Hosts</h2><table id="hosts"></table></section>
  <section><h2>Recent drift</h2><table id="drift"></table></section>
  <section><h2>Recent executions</h2><table id="execs"></table></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '-').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const pill = (s) => '<span class="pill ' + esc(s) + '">' + esc(s) + '</span>';
const ago = (t) => { if (!t) return '-'; const s = Math.round((Date.now() - Date.parse(t)) / 1000); return s < 60 ? s + 's ago' : s < 3600 ? Math.round(s/60) + 'm ago' : Math.round(s/3600) + 'h ago'; };
function table(el, head, rows) { el.innerHTML = '<tr>' + head.map((h) => '<th>' + h + '</th>').join('') + '</tr>' + rows.map((r) => '<tr>' + r.join('') + '</tr>').join(''); }
const td = (v, cls) => '<td' + (cls ? ' class="' + cls + '"' : '') + '>' + v + '</td>';
// A rollout's phase as the operator reads it: running, paused (with why), done, or superseded (with why).
const ROLLOUT_STATE = { Progressing: 'running', Paused: 'paused', Completed: 'done', Superseded: 'superseded' };
function rolloutRow(v) {
  const r = v.rollout, c = v.counts ?? {}, total = (v.hosts ?? []).length;
  const state = ROLLOUT_STATE[r.phase] ?? r.phase;
  const why = r.phase === 'Paused' ? r.pauseReason : r.phase === 'Superseded' ? r.endReason : r.phase === 'Progressing' ? v.waiting : undefined;
  const bar = '<progress max="' + esc(total) + '" value="' + esc(c.upgraded ?? 0) + '"></progress> ' + esc(c.upgraded ?? 0) + '/' + esc(total);
  const counts = ['upgraded', 'upgrading', 'pending', 'failed', 'waiting'].map((k) => k + ' ' + esc(c[k] ?? 0)).join(' · ');
  return [td(esc(r.name), 'mono'), td(esc(r.fromVersion ?? '?') + ' → ' + esc(r.version) + (r.undo ? ' (undo)' : ''), 'mono'), td(pill(state) + (why ? ' <span class="reason">' + esc(why) + '</span>' : '')), td(esc(v.batch) + '/' + esc(v.batches)), td(bar), td(counts)];
}
async function get(path) {
  const res = await fetch('/api/v1/' + path, { headers: { authorization: 'Bearer ' + localStorage.getItem('gseToken') } });
  if (res.status === 401) { showLogin(); throw new Error('unauthorized'); }
  return res.json();
}
function showLogin() { $('login').style.display = 'block'; $('main').style.display = 'none'; }
$('save').onclick = () => { localStorage.setItem('gseToken', $('token').value.trim()); $('login').style.display = 'none'; $('main').style.display = ''; refresh(); };
async function refresh() {
  if (!localStorage.getItem('gseToken')) return showLogin();
  try {
    const [status, hosts, drift, execs, targets, rollouts] = await Promise.all([get('status'), get('hosts?limit=200'), get('drift?limit=15'), get('executions?limit=15'), get('targets'), get('rollouts')]);
    const applied = status.revision?.applied;
    $('rev').textContent = applied ? 'applied ' + applied.sha.slice(0, 10) + ' · ' + applied.message : 'no revision applied yet';
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('counts').innerHTML = Object.entries(status.hosts?.bySyncState ?? {}).map(([k, n]) => '<div class="count">' + pill(k) + '<b>' + n + '</b></div>').join('');
    const rej = status.revision?.lastRejected;
    $('rejected').innerHTML = rej ? '<p><b>Rejected ' + esc(rej.sha.slice(0, 10)) + '</b> ' + esc(rej.message) + '</p><div class="errors">' + rej.errors.map((e) => esc(e.file + ':' + e.line + ':' + e.col + ': ' + (e.path ? e.path + ': ' : '') + e.message)).join('\\n') + '</div>' : '';
    table($('hosts'), ['host', 'state', 'ips', 'labels', 'revision', 'last seen'], (hosts.items ?? []).map((h) => [td(esc(h.hostId), 'mono'), td(pill(h.syncState)), td(esc(h.ips.join(' ')), 'mono'), td(esc(Object.entries(h.labels).map(([k, v]) => k + '=' + v).join(' ')), 'mono'), td(esc((h.revision ?? '').slice(0, 10)), 'mono'), td(ago(h.lastSeen))]));
    const rolloutItems = rollouts.items ?? [];
    table($('rollouts'), ['rollout', 'version', 'state', 'batch', 'progress', 'hosts'], rolloutItems.length ? rolloutItems.map(rolloutRow) : [[td('no rollouts', 'muted')]]);
    table($('drift'), ['when', 'host', 'resource', 'kind', 'healed'], (drift.items ?? []).map((d) => [td(ago(d.detectedAt)), td(esc(d.hostId), 'mono'), td(esc(d.key), 'mono'), td(esc(d.kind)), td(d.healed ? 'yes' : '<b>no</b>')]));
    table($('execs'), ['when', 'host', 'reason', 'status', 'exit'], (execs.items ?? []).map((e) => [td(ago(e.startedAt)), td(esc(e.hostId), 'mono'), td(esc(e.reason), 'mono'), td(esc(e.status)), td(esc(e.exitCode))]));
    table($('targets'), ['target', 'type', 'connected', 'spool', 'last error'], (targets.items ?? []).map((t) => [td(esc(t.name), 'mono'), td(esc(t.type)), td(t.connected ? 'yes' : '<b>no</b>'), td(esc(t.spoolDepth)), td(esc(t.lastError ?? ''))]));
  } catch (err) { $('updated').textContent = String(err.message || err); }
}
// A link may carry the token in its fragment (never sent to the server): keep it, then drop it from the URL.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { localStorage.setItem('gseToken', fromHash); history.replaceState(null, '', location.pathname); }
refresh(); setInterval(refresh, 2000);
</script>
</body>
</html>
`;
