/** `gsectl serve`: run the controller until SIGINT/SIGTERM, then drain and stop. */
import { createControllerApi } from '../../api/routes.js';
import { Controller } from '../../controller/controller.js';
import { jsonLogger, type LogLevel } from '../../controller/logger.js';
import { compileControllerOptions } from '../../controller/options.js';
import { COMMANDS, type CommandInput } from '../commands.js';
import { parseDurationMs } from '../duration.js';
import type { CommandResult } from '../output.js';
import { loadServeConfig, mergeConfig, ServeConfigError } from '../serve-config.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'string' ? Number(v) : undefined);

/** Starts the controller and resolves when a signal has stopped it. */
export async function run(input: CommandInput): Promise<CommandResult> {
  let v: Record<string, unknown> = input.values;
  const configFile = str(v.config) ?? process.env.GSE_CONFIG;
  if (configFile !== undefined) {
    try {
      const flags = COMMANDS.find((c) => c.name === 'serve')?.flags ?? {};
      v = mergeConfig(await loadServeConfig(configFile, flags), v);
    } catch (err) {
      if (!(err instanceof ServeConfigError)) throw err;
      return {
        exitCode: 2,
        stderr: [...err.message.split('\n'), 'gsectl serve: the config file is not valid; nothing started'],
      };
    }
  }
  const retentionText = str(v['host-retention']);
  const hostRetentionMs = retentionText === undefined ? undefined : parseDurationMs(retentionText);
  if (retentionText !== undefined && !hostRetentionMs)
    return {
      exitCode: 2,
      stderr: [
        `gsectl serve: --host-retention ${retentionText}: expected a duration such as 30d, 12h or 90m`,
      ],
    };
  const leaseText = str(v.lease);
  const leaseMs = leaseText === undefined ? undefined : parseDurationMs(leaseText);
  if (leaseText !== undefined && leaseMs === undefined)
    return {
      exitCode: 2,
      stderr: [`gsectl serve: --lease ${leaseText}: expected a duration such as 5s or 1500ms`],
    };
  const options = compileControllerOptions({
    repo: str(v.repo),
    branch: str(v.branch),
    path: str(v.path),
    listen: str(v.listen),
    stateDir: str(v['state-dir']),
    redisUrl: str(v.redis),
    replicaId: str(v['replica-id']),
    leaseMs,
    bootstrapToken: str(v['bootstrap-token']),
    adminToken: str(v['admin-token']),
    webhookSecret: str(v['webhook-secret']),
    fetchIntervalMs: num(v['fetch-interval-ms']),
    autoApprove: v['manual-approve'] === true ? false : undefined,
    maxHandshakes: num(v['max-handshakes']),
    admissionRate: num(v['admission-rate']),
    verifySignatures: v['verify-signatures'] === true ? true : undefined,
    tlsCert: str(v['tls-cert']),
    tlsKey: str(v['tls-key']),
    metricsToken: str(v['metrics-token']),
    gnupgHome: str(v['gnupg-home']),
    sshAllowedSignersFile: str(v['allowed-signers']),
    secretEnv: str(v['secret-env'])
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    secretDir: str(v['secret-dir']),
    maxSpecFileBytes: num(v['max-spec-file-bytes']),
    maxRevisionBytes: num(v['max-revision-bytes']),
    artifactDir: str(v['artifact-dir']),
    hostRetentionMs,
    callbackSecretEnv: str(v['callback-secret-env']),
    gseWriteBack: v['gse-write-back'] === true ? true : undefined,
    gseWriteRepo: str(v['gse-write-repo']),
  });
  const logger = jsonLogger((str(v['log-level']) ?? 'info') as LogLevel);
  // Signals are taken from the start, so a stop during start-up still drains cleanly.
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const controller = await Controller.create(options, { logger, api: createControllerApi });
  const addr = await controller.start();
  const [http, ws] = options.tls ? ['https', 'wss'] : ['http', 'ws'];
  logger.info('controller running', {
    api: `${http}://${addr.address}:${addr.port}/api/v1`,
    dashboard: `${http}://${addr.address}:${addr.port}/`,
    agents: `${ws}://${addr.address}:${addr.port}/agent`,
    tls: options.tls !== undefined,
    repo: options.repo,
    branch: options.branch,
    stateDir: options.stateDir,
    store: options.redisUrl ? 'redis' : 'sqlite',
    ...(options.redisUrl && { replica: options.replicaId, leaseMs: options.leaseMs }),
  });
  if (!options.tls && !isLoopback(addr.address))
    logger.warn(
      'serving plain HTTP on a non-loopback address: tokens and manifests cross the network in clear',
      {
        listen: `${addr.address}:${addr.port}`,
        fix: 'pass --tls-cert FILE --tls-key FILE (see docs/SECURITY.md)',
      },
    );
  const signal = await signalled;
  logger.info('stopping', { signal });
  await controller.stop();
  return { exitCode: 0 };
}

/** True for 127.0.0.0/8 and ::1 (and their v4-mapped form): traffic that never leaves the machine. */
function isLoopback(address: string): boolean {
  return /^(?:::ffff:)?127\./.test(address) || address === '::1';
}
