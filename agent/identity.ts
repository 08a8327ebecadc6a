/** The agent's identity on disk: its id and, once enrolled, the credential the controller gave it. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tmp = join(stateDir, `${IDENTITY_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(identity), { mode: 0o600 });
  await rename(tmp, join(stateDir, IDENTITY_FILE));
}
