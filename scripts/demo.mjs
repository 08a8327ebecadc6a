#!/usr/bin/env node
// The demo (`npm run demo`): the controller on a Git repo made from examples/fleet, three local agents
// with --root sandboxes, a local Redis for the example's stream target when one can be started, and the
// dashboard. Everything lives under .demo/ and stops on Ctrl-C. `--once` exits after the fleet converged.
// The wire is TLS as in production: a demo CA and a server certificate for 127.0.0.1/localhost are made with
// the openssl CLI under .demo/tls/ (valid 3 days, remade when about to expire); agents and gsectl pin that CA.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = join(root, '.demo');
const repo = join(demo, 'fleet-repo');
const once = process.argv.includes('--once');
const tlsDir = join(demo, 'tls');
const HOSTS = [
  { name: 'web-1', ip: '10.0.1.11', labels: '' },
  { name: 'web-2', ip: '10.0.1.12', labels: 'canary=true' },
  { name: 'db-1', ip: '10.0.2.21', labels: '' },
];
const READY_TIMEOUT_MS = 60_000;
const children = [];

function git(...args) {
  return execFileSync('git', args, {
    cwd: repo,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'demo',
      GIT_AUTHOR_EMAIL: 'demo@example.com',
      GIT_COMMITTER_NAME: 'demo',
      GIT_COMMITTER_EMAIL: 'demo@example.com',
    },
  }).toString();
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function firstFreePort(from) {
  for (let p = from; p < from + 100; p++) if (await portFree(p)) return p;
  throw new Error(`no free port in ${from}..${from + 99}`);
}

function start(name, command, args, env = {}) {
  const log = openSync(join(demo, `${name}.log`), 'a');
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`demo: ${name} exited (${signal ?? code}); see .demo/${name}.log`);
  });
  children.push(child);
  return child;
}

function tokens() {
  const file = join(demo, 'tokens.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const t = {
    bootstrap: process.env.GSE_BOOTSTRAP_TOKEN ?? randomBytes(24).toString('hex'),
    admin: process.env.GSE_ADMIN_TOKEN ?? randomBytes(24).toString('hex'),
  };
  writeFileSync(file, JSON.stringify(t), { mode: 0o600 });
  return t;
}

/** The demo CA and server certificate, remade when absent or expiring within a day. */
function demoTls() {
  const tls = {
    ca: join(tlsDir, 'ca.crt'),
    cert: join(tlsDir, 'server.crt'),
    key: join(tlsDir, 'server.key'),
  };
  const openssl = (...args) =>
    execFileSync('openssl', args, { cwd: tlsDir, stdio: ['ignore', 'ignore', 'pipe'] });
  if (existsSync(tls.cert) && existsSync(tls.ca)) {
    try {
      openssl('x509', '-checkend', '86400', '-noout', '-in', tls.cert);
      return tls;
    } catch {
      // expiring or unreadable: make new ones below
    }
  }
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '3',
    '-subj',
    '/CN=gse-gitops demo CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(
    join(tlsDir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
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
    '3',
    '-extfile',
    'server.ext',
    '-out',
    'server.crt',
  );
  return tls;
}

/** GET over HTTPS trusting only the demo CA (fetch cannot take a CA). */
function get(url, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function api(base, ca, token, path) {
  const res = await get(`${base}/api/v1/${path}`, ca, { authorization: `Bearer ${token}` });
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  return JSON.parse(res.body);
}

async function waitFor(what, check) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Where examples/fleet/notify sends its signed deliveries: this receiver, on this machine only. */
const HOOK_PORT = 7079;

/**
 * The example Notifications' receiver: checks X-GSE-Signature against the secret of its path and appends
 * one line per delivery to .demo/notifications.log. A busy port is skipped (deliveries then wait and retry).
 */
async function startHookReceiver(secrets) {
  if (!(await portFree(HOOK_PORT))) return undefined;
  const log = join(demo, 'notifications.log');
  const server = createHttpServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const secret = secrets[req.url ?? ''];
      const want = secret && `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      const got = String(req.headers['x-gse-signature'] ?? '');
      const ok =
        Boolean(want) && want.length === got.length && timingSafeEqual(Buffer.from(want), Buffer.from(got));
      let type = '?';
      try {
        type = JSON.parse(body.toString('utf8')).type ?? '?';
      } catch {}
      appendFileSync(log, `${new Date().toISOString()} ${req.url} ${type} signature ${ok ? 'ok' : 'BAD'}\n`);
      res.writeHead(ok ? 204 : 401).end();
    });
  });
  await new Promise((resolve) => server.listen(HOOK_PORT, '127.0.0.1', resolve));
  server.unref();
  return server;
}

let stopping = false;
const STOP_GRACE_MS = 10_000;
async function stop(code = 0) {
  stopping = true;
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = Promise.all(alive.map((c) => new Promise((r) => c.once('exit', r))));
  for (const c of alive) c.kill('SIGTERM');
  // The controller drains its target spools on the way out; give it a moment, then make sure.
  const timer = setTimeout(() => {
    for (const c of alive) c.kill('SIGKILL');
  }, STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  // The example's ProcessWatch keeps a stand-in collector running (services outlive their agent by
  // design); the demo started them, so it stops them.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gse-log-collector'))
        process.kill(Number(pid), 'SIGTERM');
    } catch {}
  }
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function main() {
  if (!existsSync(join(root, 'dist/src/cli/main.js')))
    throw new Error('not built: run `npm run build` first');
  mkdirSync(demo, { recursive: true });
  if (!existsSync(join(repo, '.git'))) {
    cpSync(join(root, 'examples/fleet'), repo, { recursive: true });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'Initial fleet from examples/fleet');
  }
  const t = tokens();
  const hookSecrets = {
    '/hooks/ops': randomBytes(24).toString('hex'),
    '/hooks/oncall': randomBytes(24).toString('hex'),
  };
  const hooks = await startHookReceiver(hookSecrets);
  const port = await firstFreePort(Number(process.env.GSE_DEMO_PORT ?? 7070));
  const base = `https://127.0.0.1:${port}`;
  const tls = demoTls();
  const caPem = readFileSync(tls.ca);

  // The example routes events to redis://127.0.0.1:6379; start one there if we can, else the target
  // stays down and its records wait in the controller's spool (which the dashboard shows).
  let redis = 'not started (port 6379 in use or redis-server missing): the redis-events target spools';
  if ((await portFree(6379)) && existsSync('/usr/bin/redis-server')) {
    mkdirSync(join(demo, 'redis'), { recursive: true });
    start('redis', 'redis-server', [
      '--port',
      '6379',
      '--bind',
      '127.0.0.1',
      '--dir',
      join(demo, 'redis'),
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    redis = 'redis://127.0.0.1:6379 (stream gse:events)';
  }

  const cli = join(root, 'dist/src/cli/main.js');
  start(
    'controller',
    process.execPath,
    [
      cli,
      'serve',
      '--repo',
      repo,
      '--state-dir',
      join(demo, 'controller'),
      '--listen',
      `127.0.0.1:${port}`,
      '--tls-cert',
      tls.cert,
      '--tls-key',
      tls.key,
    ],
    {
      GSE_BOOTSTRAP_TOKEN: t.bootstrap,
      GSE_ADMIN_TOKEN: t.admin,
      // The example Notifications' signing secrets (examples/fleet/notify), allowed as secret references.
      GSE_SECRET_ENV: 'NOTIFY_SECRET,ONCALL_HOOK_SECRET',
      NOTIFY_SECRET: hookSecrets['/hooks/ops'],
      ONCALL_HOOK_SECRET: hookSecrets['/hooks/oncall'],
    },
  );
  await waitFor('the controller', async () => (await get(`${base}/readyz`, caPem)).status === 200);

  const agentMain = join(root, 'dist/agent/main.js');
  for (const h of HOSTS) {
    const args = [
      agentMain,
      '--controller',
      `wss://127.0.0.1:${port}/agent`,
      '--ca',
      tls.ca,
      '--name',
      h.name,
      '--ip',
      h.ip,
      '--root',
      join(demo, 'hosts', h.name),
    ];
    if (h.labels) args.push('--labels', h.labels);
    start(h.name, process.execPath, args, { GSE_BOOTSTRAP_TOKEN: t.bootstrap });
  }
  const status = await waitFor('the fleet to converge', async () => {
    const s = await api(base, caPem, t.admin, 'status');
    return s.hosts.connected === HOSTS.length && s.hosts.bySyncState.Synced === HOSTS.length ? s : undefined;
  });

  console.log(`
gse-gitops demo: ${HOSTS.length} hosts Synced on ${status.revision.applied.sha.slice(0, 12)}

  Dashboard   ${base}/#token=${t.admin}
  API         ${base}/api/v1   metrics ${base}/metrics
  Admin token ${t.admin}
  Git repo    ${repo}
  Host roots  ${join(demo, 'hosts')}/<host>/   (logs in .demo/*.log)
  Redis       ${redis}
  TLS CA      ${tls.ca}   (the browser warns until you trust it; agents and gsectl pin it)
  Webhooks    ${hooks ? `http://127.0.0.1:${HOOK_PORT}/hooks/* -> .demo/notifications.log (signatures checked)` : `port ${HOOK_PORT} busy: the example Notifications wait and retry`}

Try it (in another shell, from ${root}):
  export GSE_SERVER=${base} GSE_TOKEN=${t.admin} GSE_CA=${tls.ca}
  npx gsectl status
  npx gsectl get hosts
  npx gsectl describe host web-1
  # change the fleet through Git:
  sed -i 's/Change it through Git/Change it ONLY through Git/' .demo/fleet-repo/config/motd.yaml
  git -C .demo/fleet-repo commit -qam 'Reword the motd' && npx gsectl sync --wait
  cat .demo/hosts/web-1/etc/motd
  # drift: edit a managed file by hand, then look
  echo oops >> .demo/hosts/web-2/etc/motd; sleep 1; npx gsectl get drift
  npx gsectl exec --hosts role=web -- uname -a
  # data: push a record into web-1's agent; the host-events route sends it to Redis and the archive
  echo '{"channel":"events","type":"disk.full","mount":"/data"}' | npx gse-agent push --root .demo/hosts/web-1
  npx gsectl get routes; npx gsectl get targets

Ctrl-C stops the controller, the agents and Redis.`);
  if (once) await stop(0);
}

main().catch(async (err) => {
  console.error(`demo: ${err.message}`);
  await stop(1);
});
