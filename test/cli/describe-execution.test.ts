import { describe, expect, it } from 'vitest';
import { executionChain } from '../../src/cli/commands/describe-execution.js';

describe('executionChain', () => {
  it('prints event -> rule -> decision -> output for a remediation', () => {
    const text = executionChain({
      id: 'remediation:Remediation/restart@t@ProcessWatch/svc',
      hostId: 'web-1',
      reason: 'remediation:Remediation/restart',
      command: 'remediation:Remediation/restart',
      status: 'skipped',
      exitCode: null,
      signal: null,
      stdoutTail: '',
      stderrTail: '',
      startedAt: '2026-01-01T00:00:00.000Z',
      durationMs: 0,
      remediation: {
        name: 'restart',
        itemHash: 'abcdef0123456789',
        revision: '0123456789abcdef',
        decision: 'budget',
        detail: 'hourly budget used',
        event: {
          type: 'process.down',
          time: '2026-01-01T00:00:00.000Z',
          resource: 'ProcessWatch/svc',
          fields: { process: 'svc' },
        },
      },
    });
    const lines = text.split('\n');
    expect(lines[1]).toContain(
      'Event:    process.down at 2026-01-01T00:00:00.000Z (ProcessWatch/svc) process=svc',
    );
    expect(lines[2]).toContain('Rule:     Remediation/restart (item abcdef012345, revision 0123456789ab)');
    expect(lines[3]).toContain('Decision: budget: hourly budget used');
    expect(lines[4]).toContain('Status:   skipped (exit -');
  });

  it('prints the reason and output of an ad-hoc run', () => {
    const text = executionChain({
      id: 't1',
      hostId: 'h1',
      reason: 'adhoc',
      command: 'uptime',
      status: 'succeeded',
      exitCode: 0,
      signal: null,
      stdoutTail: 'up 3 days\n',
      stderrTail: '',
      startedAt: '2026-01-01T00:00:00.000Z',
      requestedBy: 'admin',
    });
    expect(text).toContain('Reason:   adhoc (by admin)');
    expect(text).toContain('    up 3 days');
  });
});
