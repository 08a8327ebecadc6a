/**
 * The dashboard's Remediations view and host page, by the page's own script over a stub DOM against the API
 * over a port of plain objects: what each shows, and that hostile text from hosts stays text.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionRecord } from '../../src/store/types.js';
import { waitFor } from '../helpers/controller.js';
import { runDashboard } from './dashboard-stub.js';
import { execution, host, MemoryPort, type ServedApi, serveApi, T0, VIEWER } from './memory-port.js';

const at = new Date(T0).toISOString();
const HOSTILE = '<img src=x onerror=alert(1)>';

function remediationRun(): ExecutionRecord {
  return {
    ...execution('task-1', 'web-1', 'succeeded'),
    reason: 'remediation:restart-nginx',
    resource: 'Remediation/restart-nginx',
    stdoutTail: `restarted ${HOSTILE}\n`,
    finishedAt: at,
    remediation: {
      name: 'restart-nginx',
      itemHash: 'h',
      revision: 'rev-1',
      decision: 'ran',
      event: { type: 'process.down', time: at, fields: { process: 'nginx' } },
    },
  };
}

let port: MemoryPort;
let api: ServedApi;
beforeEach(async () => {
  port = new MemoryPort();
  api = await serveApi(port);
});
afterEach(() => api.close());

describe('dashboard Remediations view', () => {
  it('lists remediation runs with their event, decision, status and output, and no other executions', async () => {
    port.executionRecords = [
      remediationRun(),
      execution('adhoc-1', 'web-2', 'failed'),
      {
        ...remediationRun(),
        id: 'task-2',
        status: 'skipped',
        stdoutTail: '',
        remediation: {
          ...(remediationRun().remediation as NonNullable<ExecutionRecord['remediation']>),
          decision: 'cooldown',
          detail: 'ran 10s ago; cooldown 1m',
        },
      },
    ];
    const els = runDashboard(api.url, VIEWER, '#/remediations');
    const html = await waitFor('the Remediations view rendered', () =>
      els.get('remediations')?.innerHTML.includes('restart-nginx')
        ? els.get('remediations')?.innerHTML
        : undefined,
    );
    const rows = html.split('</tr>').filter((r) => r.includes('<td'));
    expect(rows).toHaveLength(2);
    const [ran, skipped] = rows as [string, string];
    expect(ran).toContain('<a href="#/hosts/web-1" class="mono">web-1</a>');
    expect(ran).toContain('<td class="mono">process.down</td>');
    expect(ran).toContain('<span class="pill succeeded">succeeded</span>');
    expect(ran).toContain('<pre>restarted &lt;img src=x onerror=alert(1)&gt;\n</pre>');
    expect(skipped).toContain('cooldown<div class="muted">ran 10s ago; cooldown 1m</div>');
    expect(skipped).toContain('<span class="pill skipped">skipped</span>');
    expect(html).not.toContain('adhoc-1');
    expect(html).not.toContain('<img');
  });
});

describe('dashboard host page', () => {
  it("shows the host's facts, resources, drift timeline and executions, hostile text as text", async () => {
    port.hosts.set(
      'web-1',
      host('web-1', { name: HOSTILE, facts: { kernel: HOSTILE }, revision: 'rev-1-abcdef' }),
    );
    port.resources = [
      {
        hostId: 'web-1',
        key: 'ConfigFile/motd',
        kind: 'ConfigFile',
        name: 'motd',
        hash: 'h',
        state: 'OutOfSync',
        message: `drifted ${HOSTILE}`,
        updatedAt: at,
      },
    ];
    port.driftRecords = [
      {
        id: 'd1',
        hostId: 'web-1',
        key: 'ConfigFile/motd',
        kind: 'corrective',
        revision: 'rev-1',
        detectedAt: at,
        healed: false,
        detail: `content changed ${HOSTILE}`,
      },
    ];
    port.executionRecords = [
      { ...execution('t1', 'web-1', 'failed'), stdoutTail: HOSTILE, stderrTail: 'boom\n' },
    ];
    const els = runDashboard(api.url, VIEWER, '#/hosts/web-1');
    await waitFor('the host page rendered', () => els.get('host-execs')?.innerHTML.includes('boom'));
    expect(els.get('view-host')?.hidden).toBe(false);
    expect(els.get('host-title')?.textContent).toBe(`${HOSTILE} (web-1)`);
    expect(els.get('host-facts')?.innerHTML).toContain(
      '<dt>fact kernel</dt><dd>&lt;img src=x onerror=alert(1)&gt;</dd>',
    );
    expect(els.get('host-resources')?.innerHTML).toContain('<span class="pill OutOfSync">OutOfSync</span>');
    const drift = els.get('host-drift')?.innerHTML ?? '';
    expect(drift).toContain('<li class="drift-record">');
    expect(drift).toContain('<span class="pill corrective">corrective</span>');
    expect(drift).toContain('content changed &lt;img');
    const execs = els.get('host-execs')?.innerHTML ?? '';
    expect(execs).toContain('<pre class="stdout">&lt;img src=x onerror=alert(1)&gt;</pre>');
    expect(execs).toContain('<pre class="stderr">boom\n</pre>');
    for (const id of ['host-title', 'host-facts', 'host-resources', 'host-drift', 'host-execs'])
      expect(els.get(id)?.innerHTML).not.toContain('<img');
  });
});
