/** The agent's identity on disk: its id and, once enrolled, the credential the controller gave it. */
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, openPrivate } from './engine/private-fs.js';

export interface Identity {
  agentId: string;
  credential?: string;
}

const IDENTITY_FILE = 'identity.json';

/** Reads the identity from the state dir, or undefined when the agent never enrolled here. */
export async function readIdentity(stateDir: string): Promise<Identity | undefined> {
  try {
    const raw: unknown = JSON.parse(await readFile(join(stateDir, IDENTITY_FILE), 'utf8'));
    if (typeof raw !== 'object' || raw === null) return undefined;
    const { agentId, credential } = raw as Record<string, unknown>;
    if (typeof agentId !== 'string' || agentId === '') return undefined;
    return { agentId, credential: typeof credential === 'string' ? credential : undefined };
  } catch {
    return undefined;
  }
}

/** Writes the identity atomically, readable by the agent's user only (it holds a credential). */
export async function writeIdentity(stateDir: string, identity: Identity): Promise<void> {
  await ensurePrivateDir(stateDir);
  const tmp = join(stateDir, `${IDENTITY_FILE}.tmp`);
  // 'w' with an explicit chmod: a tmp left by a crash keeps no looser mode than 0600.
  const fh = await openPrivate(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(identity));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(stateDir, IDENTITY_FILE));
}
