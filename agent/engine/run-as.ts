/**
 * What a script runs as and with: a minimal environment (a fixed PATH, HOME, LANG, then the spec's `env`),
 * never the agent's own variables (its bootstrap token, credentials, proxies), and the uid/gid of `runAs`
 * resolved on the real host (/etc/passwd and /etc/group, not under `--root`). A `runAs` the agent cannot
 * honour is a RunAsError, never ignored: the task fails saying why.
 */
import { userInfo } from 'node:os';
import { OwnerUnknownError, RunAsError } from './errors.js';
import { type Account, resolveAccount, type UserDb } from './owner.js';

/** PATH of every script: the usual system directories, never the agent's own PATH. */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** LANG of every script unless its spec declares one. */
export const DEFAULT_LANG = 'C.UTF-8';

/** The environment of a script: PATH, HOME and LANG, then `extra` (the spec's `env` and agent context). */
export function minimalEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: SAFE_PATH, HOME: home, LANG: DEFAULT_LANG, ...extra };
}

/** The home directory of the agent's own user ('/' when it has none). */
export function agentHome(): string {
  try {
    return userInfo().homedir || '/';
  } catch {
    return '/';
  }
}

export interface RunAsDeps {
  /** Default /etc/passwd and /etc/group. */
  userDb?: UserDb;
  /** The agent's uid and gid; default the process's. */
  self?: { uid: number; gid: number };
}

/**
 * The account `runAs` names. Switching needs root; an agent that is not root may only "switch" to itself.
 * Throws RunAsError (unknown user or group, or not root) with the reason and how to fix it.
 */
export async function resolveRunAs(runAs: string, deps: RunAsDeps = {}): Promise<Account> {
  let account: Account;
  try {
    account = await resolveAccount(runAs, deps.userDb);
  } catch (err) {
    if (err instanceof OwnerUnknownError) {
      throw new RunAsError(runAs, `${err.missing} not found in /etc/passwd or /etc/group on this host`);
    }
    throw err;
  }
  const self = deps.self ?? { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  if (self.uid !== 0 && (account.uid !== self.uid || account.gid !== self.gid)) {
    throw new RunAsError(
      runAs,
      `the agent runs as uid ${self.uid}, not root, and cannot switch to ${account.uid}:${account.gid}; run the agent as root or remove runAs`,
    );
  }
  return account;
}
