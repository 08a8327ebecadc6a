/**
 * The dashboard's entry: the hash router (`#/`, `#/hosts/ID`, `#/rollouts`, `#/remediations`), one render
 * at a time (a change during a render renders again after it), the token login, and the start. Browser
 * code, see script-core.ts.
 */
export const SCRIPT_MAIN = String.raw`
const VIEWS = ['overview', 'host', 'rollouts', 'remediations'];
function currentRoute() {
  const m = /^#\/hosts\/(.+)$/.exec(location.hash);
  if (m) return { view: 'host', id: decodeURIComponent(m[1]) };
  if (location.hash === '#/rollouts') return { view: 'rollouts' };
  if (location.hash === '#/remediations') return { view: 'remediations' };
  return { view: 'overview' };
}
let rendering = false, renderAgain = false;
async function render() {
  if (!token()) return showLogin();
  if (rendering) { renderAgain = true; return; }
  rendering = true;
  const r = currentRoute();
  for (const v of VIEWS) {
    $('view-' + v).hidden = v !== r.view;
    const link = $('nav-' + v);
    if (link) link.setAttribute('class', v === r.view ? 'current' : '');
  }
  try {
    const status = await get('status');
    const applied = status.revision && status.revision.applied;
    $('rev').textContent = applied ? 'applied ' + short(applied.sha) + ' · ' + applied.message : 'no revision applied yet';
    if (r.view === 'overview') await renderOverview();
    else if (r.view === 'host') await renderHost(r.id);
    else if (r.view === 'rollouts') await renderRollouts();
    else await renderRemediations();
    $('error').textContent = '';
  } catch (err) {
    $('error').textContent = String((err && err.message) || err);
  }
  rendering = false;
  if (renderAgain) { renderAgain = false; render(); }
}
$('save').addEventListener('click', () => {
  localStorage.setItem('gseToken', $('token').value.trim());
  $('login').hidden = true; $('main').hidden = false;
  render(); connectLive();
});
window.addEventListener('hashchange', () => render());
// A link may carry the token in its fragment (never sent to the server): keep it, then drop it from the URL.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { localStorage.setItem('gseToken', fromHash); history.replaceState(null, '', location.pathname + '#/'); }
render(); connectLive();
`;
