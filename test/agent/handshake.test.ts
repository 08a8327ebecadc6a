import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeDecision, Handshake } from '../../agent/handshake.js';
import { ERROR_CODES } from '../../src/protocol/codes.js';
import type { AgentFacts } from '../../src/protocol/messages.js';

const facts: AgentFacts = {
  name: 'web-1',
  ips: ['10.0.0.1'],
  cloudId: 0,
  os: 'linux',
  agentVersion: '1.0.0',
  labels: {},
};

describe('closeDecision', () => {
  const table: Array<{ name: string; refusal: string | undefined; canEnroll: boolean; want: string }> = [
    { name: 'a plain drop', refusal: undefined, canEnroll: false, want: 'reconnect' },
    { name: 'pending approval', refusal: ERROR_CODES.pendingApproval, canEnroll: true, want: 'reconnect' },
    { name: 'a live twin', refusal: ERROR_CODES.sessionLive, canEnroll: false, want: 'reconnect' },
    { name: 'a wrong bootstrap token', refusal: ERROR_CODES.badToken, canEnroll: true, want: 'fatal' },
    { name: 'revoked', refusal: ERROR_CODES.revoked, canEnroll: true, want: 'fatal' },
    { name: 're-enrollment refused', refusal: ERROR_CODES.reenrollRefused, canEnroll: true, want: 'fatal' },
    {
      name: 'an unknown credential, token at hand',
      refusal: ERROR_CODES.badCredential,
      canEnroll: true,
      want: 'reenroll',
    },
    {
      name: 'an unknown credential, no token',
      refusal: ERROR_CODES.badCredential,
      canEnroll: false,
      want: 'fatal',
    },
  ];
  it.each(table)('decides $want after $name', ({ refusal, canEnroll, want }) => {
    expect(closeDecision(refusal, canEnroll)).toBe(want);
  });
});

describe('Handshake', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('says hello with the bootstrap token until a welcome gives a credential, which it keeps on disk', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-handshake-'));
    const h = new Handshake({ stateDir: dir, facts, bootstrapToken: 'boot' }, { agentId: 'web-1' });
    expect(h.hello('', 0)).toMatchObject({ type: 'hello', agentId: 'web-1', bootstrapToken: 'boot' });
    await h.welcomed('cred-1');
    const hello = h.hello('sha256:abc', 7);
    expect(hello).toMatchObject({ credential: 'cred-1', manifestHash: 'sha256:abc', spoolHighWater: 7 });
    expect(hello).not.toHaveProperty('bootstrapToken');
    expect(JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8'))).toEqual({
      agentId: 'web-1',
      credential: 'cred-1',
    });
  });

  it('forgets its credential and enrolls again when the controller no longer knows it', () => {
    const h = new Handshake(
      { stateDir: '/nonexistent', facts, bootstrapToken: 'boot' },
      { agentId: 'a', credential: 'old' },
    );
    h.refused(ERROR_CODES.badCredential, 'unknown credential');
    expect(h.refusal).toBe('bad_credential: unknown credential');
    expect(h.closed()).toBe('reenroll');
    expect(h.hello('', 0)).toMatchObject({ bootstrapToken: 'boot' });
    // The refusal decided one close only.
    expect(h.closed()).toBe('reconnect');
  });
});
