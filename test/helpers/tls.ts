/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the `openssl` CLI, so
 * tests run the controller on HTTPS/WSS as production does. `testCa()` is the shared one.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** The cache dir of day `d`: a new CA each day, valid 3 days, so a cached one always has 2 days left. */
const cacheDir = (d: Date) => join(tmpdir(), `gse-test-ca-${d.toISOString().slice(0, 10)}`);

async function cached(dir: string): Promise<TestCa | undefined> {
  try {
    const caPem = await readFile(join(dir, 'ca.crt'), 'utf8');
    await readFile(join(dir, 'server.key'));
    const cert = new X509Certificate(await readFile(join(dir, 'server.crt')));
    if (Date.parse(cert.validTo) - Date.now() < 24 * 3600_000) return undefined;
    return {
      dir,
      caFile: join(dir, 'ca.crt'),
      caPem,
      certFile: join(dir, 'server.crt'),
      keyFile: join(dir, 'server.key'),
    };
  } catch {
    return undefined;
  }
}

/**
 * The tests' CA: made once (per test process at most) with openssl and cached in a temp dir shared by the
 * test processes of the day, so parallel test files agree on one CA and no run leaves a dir behind.
 */
export function testCa(): Promise<TestCa> {
  shared ??= (async () => {
    const dir = cacheDir(new Date());
    const hit = await cached(dir);
    if (hit) return hit;
    // Made aside and renamed into place whole, so a parallel test process never sees half a CA.
    const fresh = await mkdtemp(`${dir}.tmp-`);
    await generateCa(fresh);
    try {
      await rename(fresh, dir);
    } catch {
      // Another process won the race (or a stale dir is in the way): use its CA if good, else replace it.
      await rm(fresh, { recursive: true, force: true });
      const other = await cached(dir);
      if (other) return other;
      await rm(dir, { recursive: true, force: true });
      return testCaUncached(dir);
    }
    return (await cached(dir)) ?? generateCa(dir);
  })();
  return shared;
}

async function testCaUncached(dir: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return generateCa(dir);
}
