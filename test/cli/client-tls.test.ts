import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiClientError, clientOptions, connectError } from '../../src/cli/client.js';

const err = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('gsectl client TLS options', () => {
  it('reads the CA from --ca before GSE_CA when both are set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gse-cli-ca-'));
    try {
      await writeFile(join(dir, 'a.crt'), 'flag-ca');
      await writeFile(join(dir, 'b.crt'), 'env-ca');
      const opts = clientOptions({ ca: join(dir, 'a.crt') }, { GSE_CA: join(dir, 'b.crt') });
      expect(opts.ca?.toString()).toBe('flag-ca');
      expect(clientOptions({}, { GSE_CA: join(dir, 'b.crt') }).ca?.toString()).toBe('env-ca');
      expect(clientOptions({}, {}).ca).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the file when the CA cannot be read', () => {
    expect(() => clientOptions({ ca: '/nonexistent/ca.crt' }, {})).toThrow(ApiClientError);
    expect(() => clientOptions({ ca: '/nonexistent/ca.crt' }, {})).toThrow(
      /--ca \/nonexistent\/ca.crt: cannot read/,
    );
  });
});

describe('connectError', () => {
  it.each([
    {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
      message: 'x',
      out: 'tls_untrusted',
      text: /pass --ca FILE or set GSE_CA/,
    },
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'x', out: 'tls_untrusted', text: /TLS: cannot verify/ },
    { code: 'EPROTO', message: 'wrong version number', out: 'tls_mismatch', text: /may serve plain HTTP/ },
    { code: 'ECONNRESET', message: 'socket hang up', out: 'connection_reset', text: /use https:\/\// },
    {
      code: 'ECONNREFUSED',
      message: 'connect refused',
      out: 'unreachable',
      text: /is `gsectl serve` running/,
    },
  ])('maps $code to $out', ({ code, message, out, text }) => {
    const e = connectError('https://c:1', err(code, message));
    expect(e.code).toBe(out);
    expect(e.message).toMatch(text);
  });
});
