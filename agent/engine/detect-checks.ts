/**
 * One HostCheck on the host: each probe looks once (one statfs, one mount-table read, one directory listing
 * or one command run) and says which events it raises and the check's status. The transitions are
 * detect-logic.ts's; this holds the per-check state between probes. I/O comes through `DetectDeps`.
 *
 * `--root`: every path a check names is a host path resolved under the root, as managed files are. A disk
 * probe statfs's `<root><mount>`, i.e. the file system that holds it (with no root, the mount itself); a
 * readonly probe looks up the mount that holds `<root><mount>` in the agent's mount table; a corefiles probe
 * lists `<root><dir>`. Events name the paths as the check declares them (without the root).
 */
import { posix } from 'node:path';
import { globToRegExp } from '../../src/kernel/glob.js';
import type { ManifestHostCheck } from '../../src/protocol/manifest.js';
import type { HostEvent } from '../../src/protocol/messages.js';
import type { Clock } from './deps.js';
import {
  type BlockCounts,
  diskOver,
  levelStep,
  newFilesStep,
  streakStep,
  usedPercent,
} from './detect-logic.js';
import { type MountEntry, mountHolding, mountReadOnly } from './detect-mounts.js';
import { errorText } from './errors.js';
import { checkFailedEvent, corefileEvent, diskFullEvent, diskReadonlyEvent } from './events.js';
import type { ExecOutcome, ExecSpec } from './exec.js';

/** Characters of a failed check command's output an event carries (the last ones). */
export const CHECK_OUTPUT_CHARS = 512;

/** What the host checks read and run, injected so the logic runs on fakes in tests. */
export interface DetectDeps {
  clock: Clock;
  /** `--root` ('' is the real /). */
  root: string;
  statfs(path: string): Promise<BlockCounts>;
  mounts(): Promise<MountEntry[]>;
  /** The names in a directory; [] when it does not exist (yet). */
  listDir(path: string): Promise<string[]>;
  /** Size and mtime of a regular file (not followed through a symlink), or undefined for anything else. */
  fileInfo(path: string): Promise<{ size: number; mtimeMs: number } | undefined>;
  /** Runs a command as scripts run (exec.ts `runScript`: minimal env, runAs honoured). */
  run(spec: ExecSpec): Promise<ExecOutcome>;
}

/** A check's standing as its item report shows it: `failed` only when it cannot probe. */
export interface CheckStatus {
  state: 'ok' | 'failed';
  message: string;
}

export interface ProbeOutcome {
  events: HostEvent[];
  status: CheckStatus;
}

/** The status of a check that probes and has nothing raised. */
export const ARMED: CheckStatus = { state: 'ok', message: 'armed' };

/** A host path under the root. */
export function underRoot(root: string, path: string): string {
  return root === '' ? path : posix.join(root, path);
}

function raised(message: string): CheckStatus {
  return { state: 'ok', message: `raised ${message}` };
}

function cannot(what: string, err: unknown): CheckStatus {
  return { state: 'failed', message: `${what}: ${errorText(err)}` };
}

/** The state of one HostCheck between probes. */
export class HostCheckState {
  readonly key: string;
  private on: boolean | undefined;
  private onStatus: CheckStatus = ARMED;
  private failures = 0;
  private seen: Set<string> | undefined;
  /** When the check started: a core file older than this is not new, one as old or newer is. */
  private readonly startedAt: number;

  constructor(
    readonly check: ManifestHostCheck,
    private readonly deps: DetectDeps,
  ) {
    this.key = `HostCheck/${check.name}`;
    this.startedAt = deps.clock.now();
  }

  /** Looks once; a probe that cannot look leaves the state as it was (no event, status failed). */
  async probe(signal?: AbortSignal): Promise<ProbeOutcome> {
    const { check } = this;
    if (check.disk) return this.probeDisk(check.disk);
    if (check.readonly) return this.probeReadonly(check.readonly);
    if (check.corefiles) return this.probeCorefiles(check.corefiles);
    if (check.command) return this.probeCommand(check.command, signal);
    return {
      events: [],
      status: { state: 'failed', message: 'nothing to check (this agent knows no such probe)' },
    };
  }

  private level(on: boolean, event: () => HostEvent, message: string): ProbeOutcome {
    const step = levelStep(this.on, on);
    this.on = step.on;
    if (step.fire) this.onStatus = raised(message);
    return { events: step.fire ? [event()] : [], status: on ? this.onStatus : ARMED };
  }

  private async probeDisk(disk: NonNullable<ManifestHostCheck['disk']>): Promise<ProbeOutcome> {
    const path = underRoot(this.deps.root, disk.mount);
    let percent: number;
    try {
      percent = usedPercent(await this.deps.statfs(path));
    } catch (err) {
      return { events: [], status: cannot(`statfs ${disk.mount}`, err) };
    }
    const over = diskOver(percent, disk.usedPercentOver);
    // The mount table is read only when the event is raised, for its device and type: a probe is one statfs.
    const mount = over && this.on !== true ? await this.mountOf(path) : undefined;
    return this.level(
      over,
      () =>
        diskFullEvent(
          this.deps.clock,
          {
            mount: disk.mount,
            ...fsFields(mount),
            check: this.check.name,
            usedPercent: percent,
            thresholdPercent: disk.usedPercentOver,
          },
          this.key,
        ),
      `disk.full: ${disk.mount} ${percent}% used, over ${disk.usedPercentOver}%`,
    );
  }

  private async probeReadonly(ro: NonNullable<ManifestHostCheck['readonly']>): Promise<ProbeOutcome> {
    const path = underRoot(this.deps.root, ro.mount);
    let mount: MountEntry | undefined;
    try {
      mount = mountHolding(await this.deps.mounts(), path);
    } catch (err) {
      return { events: [], status: cannot('mount table', err) };
    }
    if (!mount) return { events: [], status: { state: 'failed', message: `no mount holds ${path}` } };
    const held = mount;
    return this.level(
      mountReadOnly(held),
      () =>
        diskReadonlyEvent(
          this.deps.clock,
          { mount: ro.mount, ...fsFields(held), check: this.check.name },
          this.key,
        ),
      `disk.readonly: ${ro.mount} (${held.mountPoint}) is read-only`,
    );
  }

  private async probeCorefiles(cf: NonNullable<ManifestHostCheck['corefiles']>): Promise<ProbeOutcome> {
    const dir = underRoot(this.deps.root, cf.dir);
    let listing: string[];
    try {
      listing = await this.deps.listDir(dir);
    } catch (err) {
      return { events: [], status: cannot(`list ${cf.dir}`, err) };
    }
    const pattern = globToRegExp(cf.pattern);
    const matches = (name: string) => pattern.test(name);
    const first = this.seen === undefined;
    const step = newFilesStep(this.seen, listing, matches);
    this.seen = step.seen;
    // The first listing's files may predate the check: only those written since it started are new.
    const candidates = first ? listing.filter(matches).sort() : step.fresh;
    const events: HostEvent[] = [];
    for (const name of candidates) {
      const info = await this.deps.fileInfo(posix.join(dir, name)).catch(() => undefined);
      if (!info) continue; // a directory, a symlink, or gone already
      if (first && info.mtimeMs < this.startedAt) continue;
      const path = posix.join(cf.dir, name);
      events.push(
        corefileEvent(
          this.deps.clock,
          { path, dir: cf.dir, size: info.size, check: this.check.name },
          this.key,
        ),
      );
      this.onStatus = raised(`corefile: ${path}`);
    }
    return { events, status: this.onStatus };
  }

  private async probeCommand(
    cmd: NonNullable<ManifestHostCheck['command']>,
    signal: AbortSignal | undefined,
  ): Promise<ProbeOutcome> {
    const now = this.deps.clock.now();
    const outcome = await this.deps.run({
      taskId: `check:${this.key}@${now}`,
      script: cmd.run,
      timeoutMs: cmd.timeoutMs,
      env: { ...(cmd.env ?? {}), GSE_CHECK: this.check.name, GSE_ROOT: this.deps.root },
      ...(cmd.interpreter !== undefined ? { interpreter: cmd.interpreter } : {}),
      ...(cmd.runAs !== undefined ? { runAs: cmd.runAs } : {}),
      ...(signal ? { signal } : {}),
    });
    // Cut short by the agent stopping or the check changing: says nothing about what it checks.
    if (signal?.aborted) return { events: [], status: this.failures > 0 ? this.onStatus : ARMED };
    const failed = outcome.exitCode !== 0 || outcome.timedOut;
    const step = streakStep(this.failures, failed, cmd.failuresInARow);
    this.failures = step.failures;
    if (!failed) {
      this.onStatus = ARMED;
      return { events: [], status: ARMED };
    }
    const events: HostEvent[] = [];
    if (step.fire) {
      const output = `${outcome.stdoutTail}${outcome.stderrTail}`.trim().slice(-CHECK_OUTPUT_CHARS);
      events.push(
        checkFailedEvent(
          this.deps.clock,
          {
            check: this.check.name,
            ...(outcome.exitCode !== null ? { exitCode: outcome.exitCode } : {}),
            failures: step.failures,
            output,
          },
          this.key,
        ),
      );
      this.onStatus = raised(`check.failed: ${step.failures} failures in a row`);
    }
    return { events, status: step.failures >= cmd.failuresInARow ? this.onStatus : ARMED };
  }

  private async mountOf(path: string): Promise<MountEntry | undefined> {
    try {
      return mountHolding(await this.deps.mounts(), path);
    } catch {
      return undefined;
    }
  }
}

function fsFields(mount: MountEntry | undefined): { device?: string; fstype?: string } {
  return mount ? { device: mount.device, fstype: mount.fstype } : {};
}
