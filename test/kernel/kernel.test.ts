import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  CodedError,
  equalJitterMs,
  errorText,
  jsonLinesLogger,
} from '../../src/kernel/index.js';

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, counting attempts from 1', () => {
    const policy = { baseMs: 100, maxMs: 1_000 };
    expect([0, 1, 2, 3, 4, 5, 100].map((a) => backoffDelayMs(a, policy))).toEqual([
      100, 100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
});

describe('equalJitterMs', () => {
  it('keeps at least half the delay and stays under all of it', () => {
    expect(equalJitterMs(1_000, () => 0)).toBe(500);
    expect(equalJitterMs(1_000, () => 0.99)).toBe(995);
  });
});

describe('CodedError', () => {
  class DiskError extends CodedError<'DISK_FULL'> {
    readonly code = 'DISK_FULL';
  }
  it('names itself after its class, keeps its cause and leads errorText with its code', () => {
    const cause = new Error('ENOSPC');
    const err = new DiskError('spool write failed', { cause });
    expect(err.name).toBe('DiskError');
    expect(err.cause).toBe(cause);
    expect(errorText(err)).toBe('DISK_FULL: spool write failed');
    expect(errorText('plain')).toBe('plain');
  });
});

describe('jsonLinesLogger', () => {
  it('writes one JSON object per line at its level and above, with base fields', () => {
    const lines: string[] = [];
    const log = jsonLinesLogger('warn', (l) => lines.push(l), { agent: 'a1' });
    log.info('dropped');
    log.error('kept', { code: 7 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'error', msg: 'kept', agent: 'a1', code: 7 });
  });
});
