import { describe, expect, it } from 'vitest';
import { parseDurationMs } from '../../src/cli/duration.js';
import { ControllerOptionsError, compileControllerOptions } from '../../src/controller/options.js';

const REQUIRED = {
  repo: '/srv/fleet',
  bootstrapToken: 'bootstrap-token-0123456789',
  adminToken: 'admin-token-0123456789abcdef',
};

describe('host retention options', () => {
  it('is off unless set, and kept in milliseconds when set', () => {
    expect(compileControllerOptions(REQUIRED, {}).hostRetentionMs).toBeUndefined();
    expect(compileControllerOptions({ ...REQUIRED, hostRetentionMs: 86_400_000 }, {}).hostRetentionMs).toBe(
      86_400_000,
    );
  });

  it.each([0, -1, 1.5])('rejects %s naming --host-retention', (hostRetentionMs) => {
    expect(() => compileControllerOptions({ ...REQUIRED, hostRetentionMs }, {})).toThrow(
      ControllerOptionsError,
    );
    expect(() => compileControllerOptions({ ...REQUIRED, hostRetentionMs }, {})).toThrow('--host-retention');
  });

  it.each([
    ['30d', 30 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['30 days', undefined],
  ])('parses the flag %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });
});
