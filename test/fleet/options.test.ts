import { describe, expect, it } from 'vitest';
import { HubConfigError } from '../../src/fleet/errors.js';
import { compileHubOptions, type HubOptions } from '../../src/fleet/options.js';
import { MAX_FRAME_BYTES } from '../../src/protocol/messages.js';

describe('compileHubOptions', () => {
  it('fills every default when only the bootstrap token is given', () => {
    expect(compileHubOptions({ bootstrapToken: 't' })).toEqual({
      bootstrapToken: 't',
      autoApprove: true,
      heartbeatMs: 10_000,
      unknownAfterMs: 30_000,
      window: 64,
      maxFrameBytes: MAX_FRAME_BYTES,
      preAuthMaxFrameBytes: 65_536,
      maxHandshakes: 256,
      maxBadFrames: 20,
      helloTimeoutMs: 5_000,
      closeTimeoutMs: 5_000,
      path: '/agent',
      admissionRate: 2_000,
      admissionBurst: 400,
    });
  });

  it('derives unknownAfterMs from heartbeatMs when only the heartbeat is set', () => {
    expect(compileHubOptions({ bootstrapToken: 't', heartbeatMs: 2_000 }).unknownAfterMs).toBe(6_000);
  });

  it.each([
    { name: 'no token', input: { bootstrapToken: '' }, error: 'bootstrapToken: is required' },
    {
      name: 'a zero window',
      input: { bootstrapToken: 't', window: 0 },
      error: 'window: must be a positive integer, got 0',
    },
    {
      name: 'a fractional heartbeat',
      input: { bootstrapToken: 't', heartbeatMs: 1.5 },
      error: 'heartbeatMs: must be a positive integer, got 1.5',
    },
    {
      name: 'negative maxBadFrames',
      input: { bootstrapToken: 't', maxBadFrames: -1 },
      error: 'maxBadFrames: must be a non-negative integer, got -1',
    },
    {
      name: 'a pre-auth frame limit above the frame limit',
      input: { bootstrapToken: 't', maxFrameBytes: 1000, preAuthMaxFrameBytes: 2000 },
      error: 'preAuthMaxFrameBytes: must not exceed maxFrameBytes (1000), got 2000',
    },
    {
      name: 'zero maxHandshakes',
      input: { bootstrapToken: 't', maxHandshakes: 0 },
      error: 'maxHandshakes: must be a positive integer, got 0',
    },
    {
      name: 'a relative path',
      input: { bootstrapToken: 't', path: 'agent' },
      error: 'path: must start with "/"',
    },
  ])('throws HubConfigError when given $name', ({ input, error }) => {
    expect(() => compileHubOptions(input as HubOptions)).toThrow(HubConfigError);
    expect(() => compileHubOptions(input as HubOptions)).toThrow(error);
  });
});
