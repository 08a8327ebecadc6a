/**
 * The dashboard: one static page that reads the same JSON API as gsectl, with the token the user pastes
 * or opens it with (`/#token=...`), kept in the browser's localStorage and never sent in a URL to the
 * server. Views by hash route: the overview (`#/`), a host (`#/hosts/ID`), rollouts and remediation runs;
 * it re-renders when GET /api/v1/events says something changed, with no polling and no reload. The code is
 * split by view under dashboard/ and joined here into one <style> and one <script> block, which the CSP
 * allows by hash (security-headers.ts); the markup has no style or handler attributes, and the script puts
 * data into the page only as text.
 */
import { SCRIPT_CORE } from './dashboard/script-core.js';
import { SCRIPT_HOST } from './dashboard/script-host.js';
import { SCRIPT_LIVE } from './dashboard/script-live.js';
import { SCRIPT_MAIN } from './dashboard/script-main.js';
import { SCRIPT_OVERVIEW } from './dashboard/script-overview.js';
import { SCRIPT_RUNS } from './dashboard/script-runs.js';
import { DASHBOARD_STYLE } from './dashboard/style.js';

/** The page's script: the parts in dependency order (the entry, which starts it, last). */
export const DASHBOARD_SCRIPT = [
  SCRIPT_CORE,
  SCRIPT_OVERVIEW,
  SCRIPT_HOST,
  SCRIPT_RUNS,
  SCRIPT_LIVE,
  SCRIPT_MAIN,
].join('');

const MARKUP = `
<header><h1>gse-gitops</h1>
  <nav><a id="nav-overview" href="#/">Overview</a><a id="nav-rollouts" href="#/rollouts">Rollouts</a><a id="nav-remediations" href="#/remediations">Remediations</a></nav>
  <span class="rev" id="rev">loading…</span><span class="live" id="live">connecting</span><span class="muted" id="updated"></span><span class="reason" id="error"></span></header>
<div id="login" hidden><p>Paste an API token (the demo prints one).</p><input id="token" type="password" autofocus>
  <button id="save">Open</button></div>
<div id="main">
<main id="view-overview">
  <section><h2>Hosts by sync state</h2><div class="counts" id="counts"></div><p class="muted" id="total"></p><div id="applied"></div><div id="rejected"></div></section>
  <section><h2>Targets</h2><table id="targets"></table></section>
  <section class="wide"><h2>Convergence and data rates</h2><div class="plots">
    <div class="plot"><div class="muted">convergence time per revision</div><div id="plot-convergence"></div><div class="mono" id="converged-last"></div></div>
    <div class="plot"><div class="muted">records in per second</div><div id="plot-rate-in"></div></div>
    <div class="plot"><div class="muted">records out per second</div><div id="plot-rate-out"></div><div class="mono" id="rate-last"></div></div>
  </div></section>
  <section class="wide"><h2>Hosts</h2><table id="hosts"></table></section>
  <section><h2>Recent drift</h2><table id="drift"></table></section>
  <section><h2>Recent executions</h2><table id="execs"></table></section>
</main>
<main id="view-host" hidden>
  <section class="wide"><h2 id="host-title"></h2><div id="host-state"></div></section>
  <section><h2>Facts</h2><div id="host-facts"></div></section>
  <section><h2>Resources</h2><table id="host-resources"></table></section>
  <section class="wide"><h2>Diff (what differs from Git)</h2><div id="host-diff"></div></section>
  <section><h2>Drift timeline</h2><div id="host-drift"></div></section>
  <section><h2>Executions</h2><div id="host-execs"></div></section>
</main>
<main id="view-rollouts" hidden>
  <section class="wide"><h2>Rollouts</h2><table id="rollouts"></table></section>
</main>
<main id="view-remediations" hidden>
  <section class="wide"><h2>Remediation runs and decisions</h2><table id="remediations"></table></section>
</main>
</div>
`;

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gse-gitops</title>
<style>${DASHBOARD_STYLE}</style>
</head>
<body>${MARKUP}<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
