/**
 * The dashboard's Rollouts panel: the page's own script runs (node:vm, with a stub DOM of the elements it
 * looks up) against the real API served over a port of plain objects, and the panel's HTML is checked; and
 * the page keeps its CSP: no inline handlers or style attributes, and the served CSP hashes the script.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DASHBOARD_HTML } from '../../src/api/dashboard.js';
import type { RolloutView } from '../../src/api/port.js';
import { waitFor } from '../helpers/controller.js';
import { runDashboard } from './dashboard-stub.js';
import { MemoryPort, type ServedApi, serveApi, T0, VIEWER } from './memory-port.js';

const at = new Date(T0).toISOString();

function view(name: string, extra: Partial<RolloutView['rollout']>, rest: Partial<RolloutView>): RolloutView {
  return {
    rollout: {
      id: `${name}#1`,
      name,
      generation: 1,
      version: '1.1.0',
      fromVersion: '1.0.0',
      gitVersion: '1.1.0',
      undo: false,
      revision: 'rev-1',
      phase: 'Progressing',
      mode: 'auto',
      batchSize: 2,
      maxUnavailable: 1,
      maxFailures: 0,
      pauseBetweenMs: 0,
      healthDeadlineMs: 30_000,
      hosts: ['h1', 'h2', 'h3', 'h4', 'h5'],
      reached: 1,
      approved: 1,
      attempt: 1,
      failures: [],
      startedAt: at,
      updatedAt: at,
      ...extra,
    },
    batch: 1,
    batches: 3,
    counts: { upgraded: 2, upgrading: 0, failed: 0, pending: 1, waiting: 2 },
    hosts: ['h1', 'h2', 'h3', 'h4', 'h5'].map((hostId) => ({ hostId, batch: 1, state: 'upgraded' as const })),
    ...rest,
  };
}

let port: MemoryPort;
let api: ServedApi;
beforeEach(async () => {
  port = new MemoryPort();
  api = await serveApi(port);
});
afterEach(() => api.close());

describe('dashboard Rollouts panel', () => {
  it('shows each rollout: name, from -> to, state with reason, batch k/n, progress and host counts', async () => {
    port.rolloutViews.set('agents', view('agents', {}, {}));
    port.rolloutViews.set(
      'edge',
      view(
        'edge',
        { phase: 'Paused', pauseReason: 'batch 2 of 3: 1 host(s) failed: h4 <img src=x> sha256 mismatch' },
        { batch: 2, counts: { upgraded: 3, upgrading: 0, failed: 1, pending: 0, waiting: 1 } },
      ),
    );
    port.rolloutViews.set(
      'db',
      view(
        'db',
        { phase: 'Completed', version: '1.0.0', fromVersion: '1.1.0', undo: true },
        { batch: 1, batches: 1, counts: { upgraded: 5, upgrading: 0, failed: 0, pending: 0, waiting: 0 } },
      ),
    );
    const els = runDashboard(api.url, VIEWER);
    const html = await waitFor('the Rollouts panel rendered', () =>
      els.get('rollouts')?.innerHTML.includes('<td') ? els.get('rollouts')?.innerHTML : undefined,
    );
    const rows = html.split('</tr>').filter((r) => r.includes('<td'));
    expect(rows).toHaveLength(3);
    expect(els.get('view-rollouts')?.hidden).toBe(false);
    expect(els.get('view-overview')?.hidden).toBe(true);
    const [agents, edge, db] = rows as [string, string, string];

    expect(agents).toContain('>agents<');
    expect(agents).toContain('1.0.0 → 1.1.0');
    expect(agents).toContain('<span class="pill running">running</span>');
    expect(agents).toContain('<td>1/3</td>');
    expect(agents).toContain('<progress max="5" value="2"></progress> 2/5');
    expect(agents).toContain('upgraded 2 · upgrading 0 · pending 1 · failed 0 · waiting 2');

    expect(edge).toContain('<span class="pill paused">paused</span>');
    expect(edge).toContain('batch 2 of 3: 1 host(s) failed: h4 &lt;img src=x&gt; sha256 mismatch');
    expect(edge).not.toContain('<img');
    expect(edge).toContain('<td>2/3</td>');
    expect(edge).toContain('failed 1');

    expect(db).toContain('1.1.0 → 1.0.0 (undo)');
    expect(db).toContain('<span class="pill done">done</span>');
    expect(db).toContain('<progress max="5" value="5"></progress> 5/5');
  });

  it('says so when there are no rollouts', async () => {
    const els = runDashboard(api.url, VIEWER);
    const html = await waitFor('the Rollouts panel rendered', () => els.get('rollouts')?.innerHTML);
    expect(html).toContain('<td class="muted" colspan="6">no rollouts</td>');
  });
});

describe('dashboard CSP with the Rollouts panel', () => {
  it('has no inline handler or style attributes in its markup', () => {
    const markup = DASHBOARD_HTML.replace(/<script>[\s\S]*?<\/script>/, '').replace(
      /<style>[\s\S]*?<\/style>/,
      '',
    );
    expect(markup).toContain('id="rollouts"');
    expect(markup).not.toMatch(/\son[a-z]+\s*=/i);
    expect(markup).not.toMatch(/\sstyle\s*=/i);
    // What the script writes through innerHTML is markup too: no handler or style attributes there either.
    const script = /<script>([\s\S]*?)<\/script>/.exec(DASHBOARD_HTML)?.[1] ?? '';
    expect(script).not.toMatch(/\son[a-z]+=["']/i);
    expect(script).not.toMatch(/\sstyle=/i);
  });

  it('serves a CSP that allows exactly its script block by hash', async () => {
    const script = /<script>([\s\S]*?)<\/script>/.exec(DASHBOARD_HTML)?.[1] ?? '';
    const hash = createHash('sha256').update(script, 'utf8').digest('base64');
    const res = await api.call('/');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).not.toContain('unsafe-inline');
  });
});
