/**
 * Applies a whole manifest on the host: converges every ConfigFile (running its onChange once when it really
 * changed), prunes files that left, and probes ProcessWatches; returns per-item reports for the controller.
 * Deciding is in plan-files.ts; this is the thin acting loop.
 */
import {
  type HostManifest,
  itemKey,
  type ManifestConfigFile,
  type ManifestProcessWatch,
} from '../../src/protocol/manifest.js';
import type { ItemReport } from '../../src/protocol/messages.js';
import { type ConfigFileDeps, type ConfigFileResult, needsOnChange, pruneConfigFile } from './config-file.js';
import { convergeConfigFiles } from './converge-files.js';
import { silentLogger } from './deps.js';
import { errorText } from './errors.js';
import type { ExecOutcome, ExecSpec } from './exec.js';
import type { OwedOnChanges } from './owed-onchange.js';
import { planFileActions } from './plan-files.js';
import type { ProbeResult } from './process-match.js';
import { processWatches } from './process-watch.js';
import { resolveManagedSafe } from './safe-path.js';

/** Characters of stderr quoted in a failed onChange's message. */
const STDERR_IN_MESSAGE_CHARS = 200;

export interface ReasonedExecOutcome extends ExecOutcome {
  taskId: string;
  /** `onChange:ConfigFile/<name>`. */
  reason: string;
}

export interface ConvergeDeps extends ConfigFileDeps {
  /** Runs a script (exec.ts `runScript` bound to its deps). */
  run(spec: ExecSpec): Promise<ExecOutcome>;
  /** onChanges due but not yet succeeded: marked before they run, cleared when they exit 0. */
  owed: OwedOnChanges;
  /** Probes ProcessWatches (process-watch.ts `probeWatches`); without it they are not reported. */
  probe?(watches: readonly ManifestProcessWatch[]): Promise<Map<string, ProbeResult>>;
}

export interface ConvergeResult {
  items: ItemReport[];
  /** Keys of items whose files were removed because they left the manifest. */
  pruned: string[];
  /** Managed paths removed (also those whose item stayed but moved to another path). */
  prunedPaths: string[];
  execs: ReasonedExecOutcome[];
}

/** The reason string of an item's onChange run. */
export function onChangeReason(item: ManifestConfigFile): string {
  return `onChange:${itemKey(item)}`;
}

/** Why an onChange outcome counts as failed, or undefined when it succeeded. */
export function execFailure(outcome: ExecOutcome): string | undefined {
  if (outcome.exitCode === 0 && !outcome.timedOut) return undefined;
  const how = outcome.timedOut
    ? 'timed out'
    : outcome.exitCode === null
      ? `killed by ${outcome.signal ?? 'a signal'}`
      : `exit code ${outcome.exitCode}`;
  const stderr = outcome.stderrTail.trim().slice(-STDERR_IN_MESSAGE_CHARS);
  return stderr ? `${how}: ${stderr}` : how;
}

export interface ConvergeOptions {
  /**
   * ConfigFiles not to touch, by item key, with the report each gets instead: a re-verify leaves a file
   * that differs and whose policy is selfHeal off, as the drift watcher does.
   */
  leave?: ReadonlyMap<string, ItemReport>;
}

/** Converges `manifest` on the host, given the manifest applied before (for pruning). */
export async function convergeManifest(
  manifest: HostManifest,
  previous: HostManifest | undefined,
  deps: ConvergeDeps,
  options: ConvergeOptions = {},
): Promise<ConvergeResult> {
  const plan = planFileActions(manifest, previous, deps.ownership.paths());
  const leave = options.leave;
  const apply = leave ? plan.apply.filter((file) => !leave.has(itemKey(file))) : plan.apply;
  const items: ItemReport[] = [];
  const execs: ReasonedExecOutcome[] = [];
  // One durable batch for every file (ledger, backups, writes); onChange scripts then run in manifest order,
  // each seeing every file of this apply in place.
  const results = await convergeConfigFiles(apply, deps);
  // An onChange runs when its file really changed, or when an earlier one failed or was cut short (the file
  // then already matches, yet the item is not done). Marked owed durably before any script runs.
  const due = apply.map((file, i) => {
    const result = results[i] as ConfigFileResult;
    if (!file.onChange || result.state === 'failed') return false;
    return needsOnChange(file, result) || deps.owed.has(itemKey(file));
  });
  const owed = new Set([...deps.owed.keys()].filter((key) => manifestHasOnChange(manifest, key)));
  for (const [i, file] of apply.entries()) if (due[i]) owed.add(itemKey(file));
  await deps.owed.set(owed);
  for (const [i, file] of apply.entries()) {
    const result = results[i] as ConfigFileResult;
    const report: ItemReport = {
      kind: 'ConfigFile',
      name: file.name,
      hash: file.hash,
      state: result.state,
      observedHash: result.observedHash,
      ...(result.observedOwner !== undefined ? { observedOwner: result.observedOwner } : {}),
      ...(result.message !== undefined ? { message: result.message } : {}),
    };
    if (file.onChange && due[i]) {
      try {
        const exec = await runOnChange(file, file.onChange, result.path, deps);
        execs.push(exec);
        const failure = execFailure(exec);
        if (failure) {
          report.state = 'failed';
          report.message = `${exec.reason} failed: ${failure}`;
        } else {
          owed.delete(itemKey(file));
        }
      } catch (err) {
        report.state = 'failed';
        report.message = `${onChangeReason(file)} not run: ${errorText(err)}`;
      }
    }
    items.push(report);
  }
  if (leave) items.push(...leave.values());
  await deps.owed.set(owed);
  const pruned: string[] = [];
  const prunedPaths: string[] = [];
  for (const action of plan.prune) {
    try {
      await pruneConfigFile(action.path, deps);
      prunedPaths.push(action.path);
      if (action.keyLeft) pruned.push(action.key);
    } catch (err) {
      (deps.logger ?? silentLogger).warn('converge: prune failed', {
        path: action.path,
        err: errorText(err),
      });
    }
  }
  items.push(...(await processReports(manifest, deps)));
  return { items, pruned, prunedPaths, execs };
}

/** True when `manifest` still holds ConfigFile `key` with an onChange (else nothing is owed for it). */
function manifestHasOnChange(manifest: HostManifest, key: string): boolean {
  return manifest.items.some(
    (i) => i.kind === 'ConfigFile' && i.onChange !== undefined && itemKey(i) === key,
  );
}

async function runOnChange(
  file: ManifestConfigFile,
  onChange: NonNullable<ManifestConfigFile['onChange']>,
  absPath: string,
  deps: ConvergeDeps,
): Promise<ReasonedExecOutcome> {
  const reason = onChangeReason(file);
  const taskId = `${reason}@${file.contentHash.slice(0, 12)}@${deps.clock.now()}`;
  // The script learns where the file really is (under --root) through the environment.
  const env = { ...(onChange.env ?? {}), GSE_ROOT: deps.root, GSE_FILE: absPath };
  // The working directory is a managed path too: no symlink under the root may move the script elsewhere.
  const cwd =
    onChange.cwd !== undefined ? await resolveManagedSafe(deps.root, onChange.cwd, deps.stateDir) : undefined;
  const spec: ExecSpec = {
    taskId,
    script: onChange.run,
    timeoutMs: onChange.timeoutMs,
    env,
    ...(onChange.interpreter !== undefined ? { interpreter: onChange.interpreter } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
    ...(onChange.runAs !== undefined ? { runAs: onChange.runAs } : {}),
  };
  const outcome = await deps.run(spec);
  return { ...outcome, taskId, reason };
}

/** ProcessWatch reports: running is ok; down is ok when only observed, failed when it must run. */
async function processReports(manifest: HostManifest, deps: ConvergeDeps): Promise<ItemReport[]> {
  const watches = processWatches(manifest);
  if (watches.length === 0 || !deps.probe) return [];
  const results = await deps.probe(watches);
  return watches.map((w) => processItemReport(w, results.get(itemKey(w)) ?? { running: false, pids: [] }));
}

/** A ProcessWatch's report from a probe: running is ok; down is ok when only observed, failed when it must run. */
export function processItemReport(watch: ManifestProcessWatch, probe: ProbeResult): ItemReport {
  const failed = probe.error !== undefined || (!probe.running && watch.ensure === 'running');
  const message = probe.error ?? (probe.running ? undefined : 'not running');
  return {
    kind: 'ProcessWatch',
    name: watch.name,
    hash: watch.hash,
    state: failed ? 'failed' : 'ok',
    process: { running: probe.running, pids: probe.pids },
    ...(message !== undefined ? { message } : {}),
  };
}
