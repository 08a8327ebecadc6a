#!/usr/bin/env node
/**
 * gse-agent: `gse-agent --controller URL --token T [--name N] [--root DIR] [--state-dir D] [--labels k=v,...]`
 * runs one agent; `gse-agent simulate --count N ...` runs N real agents in this process;
 * `gse-agent push --state-dir D [--channel C] < records.jsonl` writes records to an agent's ingest socket.
 * The only place that reads argv, handles signals and exits.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent } from './agent.js';
import { collectFacts, parseLabels } from './facts.js';
import { ingestSocketPath } from './ingest.js';
import { checkControllerLink, LinkSecurityError } from './link-security.js';
import { createShared, defaultStateDir, realDeps, stderrLogger } from './runtime.js';
import { simulate } from './simulate.js';

const USAGE = `Usage:
  gse-agent --controller wss://HOST:PORT/agent --ca CA_FILE --token TOKEN [--name NAME] [--root DIR]
            [--state-dir D] [--labels k=v,...] [--ip IP] [--cloud-id N] [--ingest-http PORT] [--log-level info]
  gse-agent simulate --count N --controller URL --ca CA_FILE --token TOKEN --root DIR [--labels k=v,...]
  gse-agent push [--state-dir D | --root DIR] [--channel C] < records.jsonl

--token is the bootstrap token (or GSE_BOOTSTRAP_TOKEN); once enrolled, the agent keeps its own credential
in the state dir (default <root>/var/lib/gse-agent). --root prefixes every managed path. Simulated agent i
has root DIR/sim-<i>, so "push --root DIR/sim-<i>" reaches it.
--ca (or GSE_CA) is the PEM CA the controller's certificate must chain to (only it is trusted); a plain
ws:// controller URL is refused unless --insecure is given (labs only).
Local programs push JSON lines ({"channel": ..., ...fields}) to <state-dir>/ingest.sock, or with
--ingest-http PORT as POST http://127.0.0.1:PORT/v1/records; push prints "pushed N records" and exits 1
when the agent refused some.`;

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
  channel: { type: 'string' },
  'ingest-http': { type: 'string' },
  'log-level': { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(message: string): never {
  process.stderr.write(`gse-agent: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sub = argv[0] === 'simulate' || argv[0] === 'push' ? argv.shift() : undefined;
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
  if (sub === 'push') {
    const { push } = await import('./push.js');
    const stateDir = values['state-dir'] ?? defaultStateDir(values.root ?? '');
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
  const controllerUrl = values.controller ?? process.env.GSE_CONTROLLER;
  const token = values.token ?? process.env.GSE_BOOTSTRAP_TOKEN;
  if (!controllerUrl) fail('--controller URL is required (e.g. wss://127.0.0.1:7070/agent)');
  const url = /\/agent\/?$/.test(controllerUrl)
    ? controllerUrl
    : `${controllerUrl.replace(/\/+$/, '')}/agent`;
  const caFile = values.ca ?? process.env.GSE_CA;
  let ca: Buffer | undefined;
  try {
    const link = checkControllerLink({ url, caFile, insecure: values.insecure });
    if (link === 'plain')
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
    const fleet = await simulate(
      { count, controllerUrl: url, ca, bootstrapToken: token, root: values.root, labels, cloudId },
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
  const agent = await Agent.create(
    {
      controllerUrl: url,
      ca,
      bootstrapToken: token,
      stateDir,
      root,
      facts,
      ingest: { httpPort: ingestHttp },
    },
    realDeps(logger, shared, onFatal),
  );
  await agent.start();
  logger.info('agent started', {
    agentId: agent.agentId,
    controller: url,
    root: root || '/',
    stateDir,
    ingest: ingestSocketPath(stateDir),
    ...(agent.dataIngest?.httpPort !== undefined ? { ingestHttpPort: agent.dataIngest.httpPort } : {}),
  });
  const refusal = await Promise.race([waitForSignal().then(() => undefined), refused]);
  await agent.stop();
  await shared.files.close();
  if (refusal) {
    process.stderr.write(`gse-agent: refused by the controller: ${refusal}\n`);
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
