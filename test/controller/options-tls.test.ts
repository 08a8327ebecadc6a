import { describe, expect, it } from 'vitest';
import { ControllerOptionsError, compileControllerOptions } from '../../src/controller/options.js';

const base = { repo: '/r', bootstrapToken: 'b'.repeat(16), adminToken: 'a'.repeat(16) };

describe('compileControllerOptions TLS', () => {
  it('serves plain HTTP when neither --tls-cert nor --tls-key is given', () => {
    expect(compileControllerOptions(base, {}).tls).toBeUndefined();
  });

  it('resolves both files when both are given', () => {
    const o = compileControllerOptions({ ...base, tlsCert: '/etc/gse/c.pem', tlsKey: 'k.pem' }, {});
    expect(o.tls).toEqual({ certFile: '/etc/gse/c.pem', keyFile: `${process.cwd()}/k.pem` });
  });

  it.each([
    { name: 'cert without key', opts: { tlsCert: 'c.pem' }, field: '--tls-key' },
    { name: 'key without cert', opts: { tlsKey: 'k.pem' }, field: '--tls-cert' },
  ])('refuses $name', ({ opts, field }) => {
    expect(() => compileControllerOptions({ ...base, ...opts }, {})).toThrow(ControllerOptionsError);
    expect(() => compileControllerOptions({ ...base, ...opts }, {})).toThrow(
      new RegExp(`^${field}: TLS needs both --tls-cert FILE and --tls-key FILE`),
    );
  });
});
