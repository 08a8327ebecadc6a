/**
 * A file the controller hands the agent (GSE's file transfer, `putFile`): written under `--root` like a
 * managed file (no symlink followed, never in the state dir), atomically (temp file, fsync, rename), with
 * the declared mode and owner set on the temp file before it takes the target's name. The outcome is an
 * ExecOutcome, so it is recorded and reported like any task.
 */
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PutFileMessage } from '../../src/protocol/messages.js';
import type { Clock } from './deps.js';
import { errorText } from './errors.js';
import type { ExecOutcome } from './exec.js';
import { fsyncDir, sha256Hex, tempPathFor } from './fs-util.js';
import { resolveOwner, type UserDb } from './owner.js';
import { assertNoSymlinks, managedBase, mkdirsNoFollow, resolveManagedSafe } from './safe-path.js';

/** Mode of a transferred file when the request names none (GSE leaves it to the umask). */
export const DEFAULT_PUT_FILE_MODE = 0o644;
/** Exit code of a file transfer that could not be written. */
export const PUT_FILE_FAILED_EXIT_CODE = 1;

export interface PutFileDeps {
  root: string;
  stateDir: string;
  clock: Clock;
  userDb?: UserDb;
}

/** Writes the file of a `putFile` message; never throws: a failure is a failed outcome saying why. */
export async function putFile(
  msg: Pick<PutFileMessage, 'path' | 'content' | 'mode' | 'owner' | 'mkdir'>,
  deps: PutFileDeps,
): Promise<ExecOutcome> {
  const started = deps.clock.now();
  const outcome = (exitCode: number, stdoutTail: string, stderrTail: string): ExecOutcome => ({
    exitCode,
    signal: null,
    stdoutTail,
    stderrTail,
    startedAt: new Date(started).toISOString(),
    durationMs: deps.clock.now() - started,
    timedOut: false,
    killed: false,
  });
  let temp: string | undefined;
  try {
    const data = Buffer.from(msg.content, 'base64');
    const abs = await resolveManagedSafe(deps.root, msg.path, deps.stateDir);
    const dir = dirname(abs);
    if (msg.mkdir) await mkdirsNoFollow(msg.path, managedBase(deps.root), dir);
    const ids = msg.owner === undefined ? undefined : await resolveOwner(msg.owner, deps.userDb);
    const mode = msg.mode ?? DEFAULT_PUT_FILE_MODE;
    temp = tempPathFor(abs);
    const fh = await open(temp, 'wx', mode);
    try {
      await fh.chmod(mode); // whatever the umask
      if (ids) await fh.chown(ids.uid, ids.gid);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Re-checked right before the rename: a directory swapped for a link meanwhile is refused.
    await assertNoSymlinks(msg.path, managedBase(deps.root), abs);
    await rename(temp, abs);
    temp = undefined;
    await fsyncDir(dir);
    return outcome(0, `wrote ${msg.path} (${data.length} bytes, sha256 ${sha256Hex(data)})`, '');
  } catch (err) {
    if (temp) await rm(temp, { force: true });
    return outcome(PUT_FILE_FAILED_EXIT_CODE, '', `gse-agent: cannot write ${msg.path}: ${errorText(err)}`);
  }
}
