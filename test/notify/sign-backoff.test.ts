/** Signing and the retry schedule: pure functions, no I/O. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../src/notify/sign.js';
import { DEFAULT_DELIVERY_BACKOFF, retryDelayMs } from '../../src/notify/worker.js';

describe('signBody', () => {
  it('is sha256=<hex HMAC-SHA256 of the exact body>', () => {
    const body = '{"id":"d1","type":"drift.detected"}';
    const hex = createHmac('sha256', 'k3y-0123456789abcdef').update(body).digest('hex');
    expect(signBody(body, 'k3y-0123456789abcdef')).toBe(`sha256=${hex}`);
    // RFC 4231 test case 2.
    expect(signBody('what do ya want for nothing?', 'Jefe')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('verifies the body it signed and rejects a tampered body, another secret or no header', () => {
    const body = '{"id":"d1","exitCode":0}';
    const sig = signBody(body, 'secret-a');
    expect(verifySignature(body, 'secret-a', sig)).toBe(true);
    expect(verifySignature(Buffer.from(body), 'secret-a', sig)).toBe(true);
    expect(verifySignature('{"id":"d1","exitCode":1}', 'secret-a', sig)).toBe(false);
    expect(verifySignature(body, 'secret-b', sig)).toBe(false);
    expect(verifySignature(body, 'secret-a', undefined)).toBe(false);
    expect(verifySignature(body, 'secret-a', 'sha256=00')).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('doubles from 1 s up to 5 min, never below half of the step (equal jitter)', () => {
    const top = () => 0.999_999;
    const bottom = () => 0;
    const steps = [1, 2, 3, 4, 9, 10, 50].map((a) => retryDelayMs(a, DEFAULT_DELIVERY_BACKOFF, top));
    expect(steps).toEqual([1_000, 2_000, 4_000, 8_000, 256_000, 300_000, 300_000]);
    const lows = [1, 2, 10].map((a) => retryDelayMs(a, DEFAULT_DELIVERY_BACKOFF, bottom));
    expect(lows).toEqual([500, 1_000, 150_000]);
  });
});
