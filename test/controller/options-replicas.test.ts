import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  ControllerOptionsError,
  compileControllerOptions,
  DEFAULT_LEASE_MS,
} from '../../src/controller/options.js';

const REQUIRED = {
  repo: '/srv/fleet',
  bootstrapToken: 'bootstrap-token-0123456789',
  adminToken: 'admin-token-0123456789abcdef',
};

describe('compileControllerOptions (replicas)', () => {
  it('names the replica after the host and port, with a 5 s lease, when nothing is set', () => {
    const o = compileControllerOptions({ ...REQUIRED, listen: '0.0.0.0:7071' }, {});
    expect(o.replicaId).toBe(`${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-7071`);
    expect(o.leaseMs).toBe(DEFAULT_LEASE_MS);
  });

  it('keeps replicas on port 0 apart with a random suffix', () => {
    const a = compileControllerOptions({ ...REQUIRED, listen: '127.0.0.1:0' }, {});
    const b = compileControllerOptions({ ...REQUIRED, listen: '127.0.0.1:0' }, {});
    expect(a.replicaId).not.toBe(b.replicaId);
  });

  it('takes --replica-id over GSE_REPLICA_ID, and GSE_REPLICA_ID over the default', () => {
    expect(
      compileControllerOptions({ ...REQUIRED, replicaId: 'ctl-a' }, { GSE_REPLICA_ID: 'x' }).replicaId,
    ).toBe('ctl-a');
    expect(compileControllerOptions(REQUIRED, { GSE_REPLICA_ID: 'ctl-b' }).replicaId).toBe('ctl-b');
  });

  it.each([
    {
      name: 'a replica id with a space',
      input: { replicaId: 'ctl a' },
      error: /--replica-id: "ctl a" must be/,
    },
    { name: 'a replica id starting with a dash', input: { replicaId: '-a' }, error: /--replica-id/ },
    { name: 'a lease under 300ms', input: { leaseMs: 100 }, error: /--lease: must be at least 300ms/ },
    { name: 'a fractional lease', input: { leaseMs: 1500.5 }, error: /--lease/ },
  ])('refuses $name', ({ input, error }) => {
    expect(() => compileControllerOptions({ ...REQUIRED, ...input }, {})).toThrow(ControllerOptionsError);
    expect(() => compileControllerOptions({ ...REQUIRED, ...input }, {})).toThrow(error);
  });
});
