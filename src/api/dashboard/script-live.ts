/**
 * The dashboard's live half: GET /api/v1/events read as Server-Sent Events over fetch (EventSource cannot
 * send the Authorization header, and the token must not go in a URL), each change re-rendering the view
 * (coalesced), reconnecting after CLIENT_RETRY_MS; and the inline-SVG sparklines of convergence time and
 * data rates from the stream's ring buffers. Browser code, see script-core.ts.
 */
export const SCRIPT_LIVE = String.raw`
const RING = 60;
const plots = { convergence: [], rates: [] };
const pushRing = (ring, x) => { ring.push(x); if (ring.length > RING) ring.splice(0, ring.length - RING); };
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) { const el = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v)); return el; }
// A sparkline of values (oldest first), scaled to its own maximum; the last point marked.
function sparkline(values, label) {
  const w = 240, hgt = 48, pad = 3;
  const box = svg('svg', { width: w, height: hgt, viewBox: '0 0 ' + w + ' ' + hgt, role: 'img', 'aria-label': label });
  if (!values.length) return box;
  const max = Math.max(...values, 1e-9);
  const step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;
  const pts = values.map((v, i) => [pad + i * step, hgt - pad - (v / max) * (hgt - 2 * pad)]);
  box.append(svg('polyline', { points: pts.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' ') }));
  const last = pts[pts.length - 1];
  box.append(svg('circle', { cx: last[0].toFixed(1), cy: last[1].toFixed(1), r: 2.5 }));
  return box;
}
function renderPlots() {
  const conv = plots.convergence, rates = plots.rates;
  const c = conv[conv.length - 1], r = rates[rates.length - 1];
  $('plot-convergence').replaceChildren(sparkline(conv.map((x) => x.ms), 'convergence time per revision'));
  $('converged-last').textContent = c ? short(c.sha) + ' converged in ' + (c.ms / 1000).toFixed(2) + ' s on ' + c.hosts + ' host(s)' : 'no revision converged since the controller started';
  $('plot-rate-in').replaceChildren(sparkline(rates.map((x) => x.inPerSec), 'records in per second'));
  $('plot-rate-out').replaceChildren(sparkline(rates.map((x) => x.outPerSec), 'records out per second'));
  $('rate-last').textContent = r ? 'in ' + r.inPerSec + '/s · out ' + r.outPerSec + '/s' : 'no data rates yet';
}
function setLive(on) { const el = $('live'); el.textContent = on ? 'live' : 'reconnecting'; el.setAttribute('class', on ? 'live on' : 'live'); }
let refreshTimer;
// Many changes in a burst (a fleet converging) become one re-render.
function scheduleRender() { if (refreshTimer) return; refreshTimer = setTimeout(() => { refreshTimer = undefined; render(); }, 300); }
// Whether a change can alter the view on screen (a host page ignores the other hosts' changes).
function concernsView(type, data) {
  const r = currentRoute();
  if (type === 'revision') return true;
  if (r.view === 'overview') return true;
  if (r.view === 'rollouts') return type === 'rollout' || type === 'hosts';
  if (r.view === 'remediations') return type === 'remediation' || type === 'execution';
  if (type === 'hosts') return data.more > 0 || data.hosts.some((x) => x.hostId === r.id);
  if (type === 'drift') return data.more > 0 || data.items.some((x) => x.hostId === r.id);
  if (type === 'execution' || type === 'remediation') return data.hostId === r.id;
  return false;
}
function onLive(type, data) {
  if (type === 'hello') { plots.convergence = data.convergence || []; plots.rates = data.rates || []; renderPlots(); scheduleRender(); return; }
  if (type === 'rates' || type === 'converged') { pushRing(type === 'rates' ? plots.rates : plots.convergence, data); renderPlots(); }
  if (type === 'rates') return;
  $('updated').textContent = 'last change ' + new Date().toLocaleTimeString();
  if (concernsView(type, data)) scheduleRender();
}
async function connectLive() {
  if (!token()) return;
  try {
    const res = await fetch('/api/v1/events', { headers: { authorization: 'Bearer ' + token(), accept: 'text/event-stream' } });
    if (res.status === 401) { showLogin(); return; }
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
    setLive(true);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const frame = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let type = 'message', data = '';
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trimStart();
        }
        if (data) onLive(type, JSON.parse(data));
      }
    }
  } catch (err) {
    $('updated').textContent = 'event stream: ' + String((err && err.message) || err);
  }
  setLive(false);
  setTimeout(connectLive, 3000);
}
`;
