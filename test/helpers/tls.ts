/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the `openssl` CLI, so
 * tests run the controller on HTTPS/WSS as production does. `testCa()` makes one per test process.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM) file: what agents and gsectl pin with --ca. */
  caFile: string;
  /** The CA certificate's PEM text. */
  caPem: string;
  /** The server certificate (127.0.0.1, localhost) signed by the CA: what the controller serves. */
  certFile: string;
  keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

/** A new CA (EC P-256, valid `days`, default 3) and a server certificate for 127.0.0.1 and localhost. */
export async function generateCa(dir: string, name = 'gse-gitops test CA', days = 3): Promise<TestCa> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      String(days),
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(Date.now()),
      '-days',
      String(days),
      '-extfile',
      'server.ext',
      '-out',
      'server.crt',
    ],
    dir,
  );
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    caPem: await readFile(join(dir, 'ca.crt'), 'utf8'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
  };
}

let shared: Promise<TestCa> | undefined;

/** The test process's CA, made on first use in a temp dir that is removed when the process exits. */
export function testCa(): Promise<TestCa> {
  shared ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gse-test-ca-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return generateCa(dir);
  })();
  return shared;
}
