/** Resolves `user:group` owners to numeric ids through /etc/passwd and /etc/group (no NSS, no child process). */
import { readFile } from 'node:fs/promises';
import { OwnerUnknownError } from './errors.js';

export interface UserDb {
  /** Default /etc/passwd. */
  passwdPath?: string;
  /** Default /etc/group. */
  groupPath?: string;
}

export interface OwnerIds {
  uid: number;
  gid: number;
}

/** Rows of a colon-separated database (`name:x:id:...`), keyed by name. */
function parseDb(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields[0] && !rows.has(fields[0])) rows.set(fields[0], fields);
  }
  return rows;
}

function numeric(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

export interface Account extends OwnerIds {
  /** The user's home directory from /etc/passwd ('/' when the user has no row there: a bare uid). */
  home: string;
}

/**
 * The uid, gid and home of `spec` (`user` or `user:group`, numeric ids allowed), as `resolveOwner` reads
 * them; throws OwnerUnknownError when a name is not found.
 */
export async function resolveAccount(spec: string, db: UserDb = {}): Promise<Account> {
  const ids = await resolveOwner(spec, db);
  const [userPart = ''] = spec.split(':', 1);
  const passwd = parseDb(await readFile(db.passwdPath ?? '/etc/passwd', 'utf8'));
  const row =
    passwd.get(userPart) ?? [...passwd.values()].find((r) => numeric(r[2]) === ids.uid && r[0] !== undefined);
  const home = row?.[5];
  return { ...ids, home: home?.startsWith('/') ? home : '/' };
}

/**
 * The uid and gid of `owner` (`user`, `user:group`, numeric ids allowed); a missing group means the user's
 * primary group. Throws OwnerUnknownError when a name is not found.
 */
export async function resolveOwner(owner: string, db: UserDb = {}): Promise<OwnerIds> {
  const [userPart = '', groupPart = ''] = owner.split(':', 2);
  const passwd = parseDb(await readFile(db.passwdPath ?? '/etc/passwd', 'utf8'));
  const userRow = passwd.get(userPart);
  const uid = numeric(userPart) ?? numeric(userRow?.[2]);
  if (uid === undefined) throw new OwnerUnknownError(owner, `user ${JSON.stringify(userPart)}`);
  if (groupPart === '') {
    const gid = numeric(userRow?.[3]);
    if (gid === undefined) throw new OwnerUnknownError(owner, `primary group of ${JSON.stringify(userPart)}`);
    return { uid, gid };
  }
  const groups = parseDb(await readFile(db.groupPath ?? '/etc/group', 'utf8'));
  const gid = numeric(groupPart) ?? numeric(groups.get(groupPart)?.[2]);
  if (gid === undefined) throw new OwnerUnknownError(owner, `group ${JSON.stringify(groupPart)}`);
  return { uid, gid };
}
