/**
 * The pure decision behind GSE process operations' write-back (src/gse-write/plan-process.ts): holds ->
 * ProcessOverride files under gse/process/, decided on a revision loaded by the real spec loader, the result
 * loaded again (as the writer validates it) and laid over a plan by holdsOfRevision.
 */
import { describe, expect, it } from 'vitest';
import { holdsOfRevision } from '../../src/gse-task/overrides.js';
import {
  ConflictError,
  InvalidCallError,
  NotFoundError,
  PROCESS_HOLD_ACTION,
  planWrite,
} from '../../src/gse-write/index.js';
import { loadRevision } from '../../src/spec/load.js';
import type { Revision } from '../../src/spec/types.js';

const WATCHES = {
  'watch.yaml': `apiVersion: gse/v1
kind: ProcessWatch
metadata: { name: nginx }
spec:
  hosts: { names: ["web-*"] }
  process: { name: nginx }
  start: systemctl start nginx
---
apiVersion: gse/v1
kind: ProcessWatch
metadata: { name: cron }
spec:
  hosts: { names: ["*"] }
  process: { name: cron }
`,
};

function revision(files: Record<string, string>): Revision {
  const result = loadRevision(new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])), {
    secrets: { env: [] },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.revision;
}

function apply(files: Record<string, string>, changes: unknown[], caller = 'alice') {
  const plan = planWrite(PROCESS_HOLD_ACTION, { changes }, revision(files), caller);
  const next = { ...files };
  for (const [path, content] of Object.entries(plan.files)) {
    if (content === null) delete next[path];
    else next[path] = content;
  }
  return { plan, files: next, revision: revision(next) };
}

describe('planWrite process_hold', () => {
  it('writes one ProcessOverride per watch that the loader accepts and plans read per host', () => {
    const {
      plan,
      files,
      revision: rev,
    } = apply(WATCHES, [
      { hostId: 'web-1', watch: 'nginx', ensure: 'running', op: 'delegate' },
      { hostId: 'web-2', watch: 'nginx', ensure: 'observed', op: 'stop' },
      { hostId: 'db-1', watch: 'cron', ensure: 'observed', op: 'undelegate' },
    ]);
    expect(Object.keys(plan.files).sort()).toEqual(['gse/process/cron.yaml', 'gse/process/nginx.yaml']);
    expect(plan.summary).toBe(
      'operate_proc undelegate cron on db-1, delegate nginx on web-1, stop nginx on web-2',
    );
    expect(files['gse/process/nginx.yaml']).toContain('gse-gitops/written-by: alice');
    const holds = holdsOfRevision(rev);
    expect(holds.get('web-1')).toMatchObject([
      { name: 'nginx', ensure: 'running', op: 'delegate', by: 'alice' },
    ]);
    expect(holds.get('web-2')).toMatchObject([{ name: 'nginx', ensure: 'observed', op: 'stop' }]);
    expect(holds.get('db-1')).toMatchObject([{ name: 'cron', ensure: 'observed' }]);
  });

  it('merges into what is held, replaces a host it names again, and deletes a file left empty', () => {
    const first = apply(WATCHES, [
      { hostId: 'web-1', watch: 'nginx', ensure: 'running', op: 'delegate' },
      { hostId: 'web-2', watch: 'nginx', ensure: 'observed', op: 'stop' },
    ]);
    const second = apply(first.files, [
      { hostId: 'web-2', watch: 'nginx', ensure: null },
      { hostId: 'web-1', watch: 'nginx', ensure: 'observed', op: 'undelegate' },
    ]);
    expect(holdsOfRevision(second.revision).get('web-2')).toBeUndefined();
    expect(holdsOfRevision(second.revision).get('web-1')).toMatchObject([
      { ensure: 'observed', op: 'undelegate' },
    ]);
    const third = apply(second.files, [{ hostId: 'web-1', watch: 'nginx', ensure: null }]);
    expect(third.plan.files).toEqual({ 'gse/process/nginx.yaml': null });
    expect(third.revision.byKind.ProcessOverride).toEqual([]);
  });

  it('writes the same bytes for the same holds, so a repeated call commits nothing', () => {
    const change = [{ hostId: 'web-1', watch: 'nginx', ensure: 'running', op: 'delegate' }];
    const once = apply(WATCHES, change);
    const twice = apply(once.files, change);
    expect(twice.files['gse/process/nginx.yaml']).toBe(once.files['gse/process/nginx.yaml']);
  });

  it('refuses a watch Git does not declare, a hand-kept override, and a malformed change', () => {
    expect(() =>
      apply(WATCHES, [{ hostId: 'web-1', watch: 'apache', ensure: 'running', op: 'delegate' }]),
    ).toThrow(NotFoundError);
    const byHand = {
      ...WATCHES,
      'holds.yaml': `apiVersion: gse/v1
kind: ProcessOverride
metadata: { name: nginx-hold }
spec:
  watch: nginx
  hosts: { web-9: { ensure: observed } }
`,
    };
    expect(() =>
      apply(byHand, [{ hostId: 'web-1', watch: 'nginx', ensure: 'running', op: 'delegate' }]),
    ).toThrow(/declared in holds.yaml by hand; GSE calls change only gse\/process\/nginx.yaml/);
    expect(() => apply(byHand, [{ hostId: 'web-1', watch: 'nginx', ensure: 'running' }])).toThrow(
      ConflictError,
    );
    expect(() => apply(WATCHES, [{ hostId: 'web-1', watch: 'nginx', ensure: 'stopped' }])).toThrow(
      /changes\[0\]\.ensure: must be running, observed or null/,
    );
    expect(() => apply(WATCHES, [])).toThrow(InvalidCallError);
  });
});
