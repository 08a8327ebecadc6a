#!/usr/bin/env node
/**
 * gse-agent: `gse-agent --controller URL --token T [--name N] [--root DIR] [--state-dir D] [--labels k=v,...]`
 * runs one agent; `gse-agent simulate --count N ...` runs N real agents in this process.
 * The only place that reads argv, handles signals and exits.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from './agent.js';
import { collectFacts, parseLabels } from './facts.js';
import { createShared, realDeps, stderrLogger } from './runtime.js';
import { simulate } from './simulate.js';

const USAGE = `Usage:
  gse-agent --controller ws://HOST:PORT/agent --token TOKEN [--name NAME] [--root DIR] [--state-dir D]
            [--labels k=v,...] [--ip IP] [--cloud-id N] [--log-level info]
  gse-agent simulate --count N --controller URL --token TOKEN --root DIR [--labels k=v,...]

--token is the bootstrap token (or GSE_BOOTSTRAP_TOKEN); once enrolled, the agent keeps its own credential
in the state dir (default <root>/var/lib/gse-agent). --root prefixes every managed path.`;

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
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(message: string): never {
  process.stderr.write(`gse-agent: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sub = argv[0] === 'simulate' ? argv.shift() : undefined;
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
  const controllerUrl = values.controller ?? process.env.GSE_CONTROLLER;
  const token = values.token ?? process.env.GSE_BOOTSTRAP_TOKEN;
  if (!controllerUrl) fail('--controller URL is required (e.g. ws://127.0.0.1:7070/agent)');
  const url = /\/agent\/?$/.test(controllerUrl)
    ? controllerUrl
    : `${controllerUrl.replace(/\/+$/, '')}/agent`;
  let labels: Record<string, string>;
  try {
    labels = parseLabels(values.labels);
  } catch (err) {
    fail((err as Error).message);
  }
  const level = (values['log-level'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const cloudId = values['cloud-id'] === undefined ? undefined : Number(values['cloud-id']);
  if (cloudId !== undefined && !Number.isInteger(cloudId)) fail('--cloud-id must be an integer');

  if (sub === 'simulate') {
    const count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) fail('simulate: --count N (N >= 1) is required');
    if (!values.root) fail('simulate: --root DIR is required');
    const fleet = await simulate(
      { count, controllerUrl: url, bootstrapToken: token, root: values.root, labels, cloudId },
      stderrLogger(level),
    );
    await waitForSignal();
    await fleet.stop();
    return;
  }

  const root = values.root ?? '';
  const stateDir = values['state-dir'] ?? join(root || '/', 'var/lib/gse-agent');
  const logger = stderrLogger(level);
  const shared = createShared(logger);
  const facts = collectFacts({ name: values.name, ips: values.ip, cloudId, labels });
  let onFatal: (reason: string) => void = () => {};
  const refused = new Promise<string>((resolve) => {
    onFatal = resolve;
  });
  const agent = await Agent.create(
    { controllerUrl: url, bootstrapToken: token, stateDir, root, facts },
    realDeps(logger, shared, onFatal),
  );
  await agent.start();
  logger.info('agent started', { agentId: agent.agentId, controller: url, root: root || '/', stateDir });
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
