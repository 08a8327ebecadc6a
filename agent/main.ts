#!/usr/bin/env node
/**
 * gse-agent: `gse-agent --controller URL --token T [--name N] [--root DIR] [--state-dir D] [--labels k=v,...]`
 * runs one agent; `gse-agent simulate --count N ...` runs N real agents in this process;
 * `gse-agent push --state-dir D [--channel C] < records.jsonl` writes records to an agent's ingest socket;
 * `gse-agent push --event custom.<name> [--field k=v ...]` raises a custom host event through it.
 * The only place that reads argv, handles signals and exits.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent } from './agent.js';
import { parseControllerList } from './controller-targets.js';
import { collectFacts, parseLabels } from './facts.js';
import { ingestSocketPath } from './ingest.js';
import { checkControllerLink, LinkSecurityError } from './link-security.js';
import { createShared, defaultStateDir, realDeps, stderrLogger } from './runtime.js';
import { simulate } from './simulate.js';
import { EXIT_RESTART_NEW_VERSION, INSTALL_DIR_ENV } from './upgrade/layout.js';
import { installUpgrader } from './upgrade/upgrader.js';

const USAGE = `Usage:
  gse-agent --controller wss://HOST:PORT/agent[,wss://HOST2:PORT/agent...] --ca CA_FILE --token TOKEN [--name NAME] [--root DIR]
            [--state-dir D] [--labels k=v,...] [--ip IP] [--cloud-id N] [--ingest-http PORT] [--log-level info]
  gse-agent simulate --count N --controller URL --ca CA_FILE --token TOKEN --root DIR [--labels k=v,...]
            [--first 1] [--step 1] [--upgrade-delay-ms 50]
  gse-agent push [--state-dir D | --root DIR] [--channel C] < records.jsonl
  gse-agent push [--state-dir D | --root DIR] --event custom.NAME [--field k=v | --field k:=JSON ...]
  gse-agent install --artifact gse-agent-V.tgz --install-dir D
  gse-agent launch --install-dir D -- <agent args>

--token is the bootstrap token (or GSE_BOOTSTRAP_TOKEN); once enrolled, the agent keeps its own credential
in the state dir (default <root>/var/lib/gse-agent). --root prefixes every managed path. Simulated agent i
has root DIR/sim-<i>, so "push --root DIR/sim-<i>" reaches it.
--controller takes one URL or several, comma-separated (replicas); a host name with several addresses is
tried at each of them (TLS still checks the name). On a failed connect or a lost session the agent moves to
the next one after a jittered backoff, or after the retry-after a busy controller answered with.
--ca (or GSE_CA) is the PEM CA the controller's certificate must chain to (only it is trusted); a plain
ws:// controller URL is refused unless --insecure is given (labs only).
Local programs push JSON lines ({"channel": ..., ...fields}) to <state-dir>/ingest.sock, or with
--ingest-http PORT as POST http://127.0.0.1:PORT/v1/records; push prints "pushed N records" and exits 1
when the agent refused some. push --event raises a host event custom.NAME (NAME of a-z 0-9 _ . -) with the
given fields (k=v a string, k:=JSON any JSON value): it is routed on the events channel, and Remediations
with on.event custom.NAME match it. A line {"event": "custom.NAME", ...fields} on the socket does the same.
install unpacks a package built by "gsectl artifact build" as D/versions/<V> and makes it D/current; launch
supervises D/current (what a systemd unit runs): it restarts the agent, starts a new version the agent
upgraded to, and switches back to the old one when the new one does not report within its health deadline.`;

const FLAGS = {
  controller: { type: 'string' },
  token: { type: 'string' },
  name: { type: 'string' },
  root: { type: 'string' },
  'state-dir': { type: 'string' },
  labels: { type: 'string' },
  ip: { type: 'string', multiple: true },
  'cloud-id': { type: 'string' },
  count: { type: 'string' },
  first: { type: 'string' },
  step: { type: 'string' },
  channel: { type: 'string' },
  event: { type: 'string' },
  field: { type: 'string', multiple: true },
  'ingest-http': { type: 'string' },
  'log-level': { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  artifact: { type: 'string' },
  'install-dir': { type: 'string' },
  'upgrade-delay-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SUBCOMMANDS = new Set(['simulate', 'push', 'install', 'launch']);

function fail(message: string): never {
  process.stderr.write(`gse-agent: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sub = SUBCOMMANDS.has(argv[0] ?? '') ? argv.shift() : undefined;
  if (sub === 'launch') return launch(argv);
  let values: ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (sub === 'install') {
    if (!values.artifact || !values['install-dir'])
      fail('install: --artifact FILE and --install-dir D are required');
    const { installArtifact } = await import('./upgrade/install.js');
    const { UpgradeError } = await import('./upgrade/errors.js');
    try {
      const done = await installArtifact({ artifact: values.artifact, installDir: values['install-dir'] });
      process.stdout.write(
        `installed gse-agent ${done.version} in ${done.installDir} (sha256 ${done.sha256})${done.previous && done.previous !== done.version ? `, was ${done.previous}` : ''}\n`,
      );
    } catch (err) {
      if (!(err instanceof UpgradeError)) throw err;
      process.stderr.write(`gse-agent install: ${err.message}\n`);
      process.exitCode = 1;
    }
    return;
  }
  if (sub === 'push') {
    const { push, pushEvent, parseEventFields, PushArgumentError } = await import('./push.js');
    const stateDir = values['state-dir'] ?? defaultStateDir(values.root ?? '');
    if (values.event !== undefined || values.field !== undefined) {
      if (values.event === undefined) fail('push: --field needs --event custom.NAME');
      if (values.channel !== undefined) fail('push: --event raises an event; --channel is for records');
      let result: Awaited<ReturnType<typeof pushEvent>>;
      try {
        result = await pushEvent({
          socketPath: ingestSocketPath(stateDir),
          event: values.event,
          fields: parseEventFields(values.field ?? []),
        });
      } catch (err) {
        if (err instanceof PushArgumentError) fail(`push: ${err.message}`);
        throw err;
      }
      for (const e of result.errors) process.stderr.write(`gse-agent push: ${e}\n`);
      process.stderr.write(`pushed ${result.accepted} event${result.accepted === 1 ? '' : 's'}\n`);
      if (!result.ok) process.exitCode = 1;
      return;
    }
    const result = await push({
      socketPath: ingestSocketPath(stateDir),
      input: process.stdin,
      channel: values.channel,
    });
    // Input may still be open when the agent closed first; do not wait for it.
    process.stdin.destroy();
    for (const e of result.errors) process.stderr.write(`gse-agent push: ${e}\n`);
    process.stderr.write(`pushed ${result.accepted} records\n`);
    if (!result.ok) process.exitCode = 1;
    return;
  }
  const controllerText = values.controller ?? process.env.GSE_CONTROLLER;
  const token = values.token ?? process.env.GSE_BOOTSTRAP_TOKEN;
  if (!controllerText) fail('--controller URL is required (e.g. wss://127.0.0.1:7070/agent)');
  let urls: string[];
  try {
    urls = parseControllerList(controllerText);
  } catch (err) {
    fail((err as Error).message);
  }
  const url = urls[0] as string;
  const caFile = values.ca ?? process.env.GSE_CA;
  let ca: Buffer | undefined;
  try {
    const links = urls.map((u) => checkControllerLink({ url: u, caFile, insecure: values.insecure }));
    if (links.includes('plain'))
      process.stderr.write('gse-agent: --insecure: the link to the controller is not encrypted\n');
  } catch (err) {
    if (err instanceof LinkSecurityError) fail(err.message);
    throw err;
  }
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      fail(`--ca ${caFile}: cannot read the CA certificate: ${(err as Error).message}`);
    }
  }
  let labels: Record<string, string>;
  try {
    labels = parseLabels(values.labels);
  } catch (err) {
    fail((err as Error).message);
  }
  const level = (values['log-level'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const cloudId = values['cloud-id'] === undefined ? undefined : Number(values['cloud-id']);
  if (cloudId !== undefined && !Number.isInteger(cloudId)) fail('--cloud-id must be an integer');
  const ingestHttp = values['ingest-http'] === undefined ? undefined : Number(values['ingest-http']);
  if (ingestHttp !== undefined && !(Number.isInteger(ingestHttp) && ingestHttp >= 0 && ingestHttp < 65536))
    fail('--ingest-http must be a port number');

  if (sub === 'simulate') {
    const count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) fail('simulate: --count N (N >= 1) is required');
    if (!values.root) fail('simulate: --root DIR is required');
    const first = values.first === undefined ? 1 : Number(values.first);
    if (!Number.isInteger(first) || first < 1)
      fail('simulate: --first N (N >= 1) numbers the first instance');
    const step = values.step === undefined ? 1 : Number(values.step);
    if (!Number.isInteger(step) || step < 1)
      fail('simulate: --step N (N >= 1) is the step between instances');
    const delay = values['upgrade-delay-ms'];
    const upgradeDelayMs = delay === undefined ? undefined : Number(delay);
    if (upgradeDelayMs !== undefined && !(Number.isInteger(upgradeDelayMs) && upgradeDelayMs >= 0))
      fail('simulate: --upgrade-delay-ms must be a whole number of milliseconds');
    const fleet = await simulate(
      {
        count,
        first,
        step,
        controllerUrl: url,
        controllerUrls: urls,
        ca,
        bootstrapToken: token,
        root: values.root,
        labels,
        cloudId,
        ...(upgradeDelayMs !== undefined ? { upgradeDelayMs } : {}),
      },
      stderrLogger(level),
    );
    await waitForSignal();
    await fleet.stop();
    return;
  }

  const root = values.root ?? '';
  const stateDir = values['state-dir'] ?? defaultStateDir(root);
  const logger = stderrLogger(level);
  const shared = createShared(logger);
  const facts = collectFacts({ name: values.name, ips: values.ip, cloudId, labels });
  let onFatal: (reason: string) => void = () => {};
  const refused = new Promise<string>((resolve) => {
    onFatal = resolve;
  });
  let onRestart: () => void = () => {};
  const restart = new Promise<'restart'>((resolve) => {
    onRestart = () => resolve('restart');
  });
  // Under `gse-agent launch` the agent upgrades itself; run on its own it reports that it cannot.
  const installDir = process.env[INSTALL_DIR_ENV];
  const deps = realDeps(logger, shared, onFatal);
  if (installDir) deps.upgrader = installUpgrader({ installDir, restart: () => onRestart() });
  const agent = await Agent.create(
    {
      controllerUrl: url,
      controllerUrls: urls,
      ca,
      bootstrapToken: token,
      stateDir,
      root,
      facts,
      ingest: { httpPort: ingestHttp },
    },
    deps,
  );
  await agent.start();
  logger.info('agent started', {
    agentId: agent.agentId,
    controller: urls.join(','),
    root: root || '/',
    stateDir,
    ingest: ingestSocketPath(stateDir),
    ...(agent.dataIngest?.httpPort !== undefined ? { ingestHttpPort: agent.dataIngest.httpPort } : {}),
  });
  const ended = await Promise.race([waitForSignal().then(() => undefined), refused, restart]);
  await agent.stop();
  await shared.files.close();
  if (ended === 'restart') {
    // The spool is closed with everything in it: the new version sends it.
    process.exitCode = EXIT_RESTART_NEW_VERSION;
    return;
  }
  const refusal = ended;
  if (refusal) {
    process.stderr.write(`gse-agent: refused by the controller: ${refusal}\n`);
    process.exitCode = 1;
  }
}

/** `launch --install-dir D -- <agent args>`: supervises D/current until SIGTERM/SIGINT. */
async function launch(argv: string[]): Promise<void> {
  const split = argv.indexOf('--');
  const own = split === -1 ? argv : argv.slice(0, split);
  const agentArgs = split === -1 ? [] : argv.slice(split + 1);
  let installDir: string | undefined;
  let level: string | undefined;
  try {
    const { values } = parseArgs({
      args: own,
      options: { 'install-dir': { type: 'string' }, 'log-level': { type: 'string' } },
      strict: true,
    });
    installDir = values['install-dir'];
    level = values['log-level'];
  } catch (err) {
    fail(`launch: ${(err as Error).message}`);
  }
  if (!installDir) fail("launch: --install-dir D is required (then -- and the agent's own arguments)");
  const { Launcher, abortableSleep, spawnAgent } = await import('./upgrade/launcher.js');
  const { resolve } = await import('node:path');
  const logger = stderrLogger((level ?? 'info') as 'info', { part: 'launcher' });
  const launcher = new Launcher(resolve(installDir), agentArgs, {
    spawn: spawnAgent,
    now: () => Date.now(),
    sleep: abortableSleep,
    logger,
  });
  process.on('SIGTERM', () => launcher.stop('SIGTERM'));
  process.on('SIGINT', () => launcher.stop('SIGINT'));
  const { UpgradeError } = await import('./upgrade/errors.js');
  try {
    await launcher.run();
  } catch (err) {
    if (!(err instanceof UpgradeError)) throw err;
    process.stderr.write(`gse-agent launch: ${err.message}\n`);
    process.exitCode = 1;
  }
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`gse-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
