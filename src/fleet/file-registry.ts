/**
 * An AgentRegistry kept in one JSON file in the state dir (`agents.json`, mode 0600), rewritten atomically
 * (temp file, fsync, rename) on every change, so a crash leaves either the old or the new file. Meant for a
 * single controller process until the store implements the same interface.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { RegistryError } from './errors.js';
import type { AgentRecord, AgentRegistry } from './registry.js';

/** File name of the registry inside the state dir. */
export const AGENT_REGISTRY_FILE = 'agents.json';
const FILE_FORMAT_VERSION = 1;

interface RegistryFile {
  version: 1;
  agents: AgentRecord[];
}

const str = { type: 'string' } as const;
const validateFile = new Ajv().compile<RegistryFile>({
  type: 'object',
  required: ['version', 'agents'],
  properties: {
    version: { const: FILE_FORMAT_VERSION },
    agents: {
      type: 'array',
      items: {
        type: 'object',
        required: ['agentId', 'name', 'credentialHash', 'status', 'enrolledAt', 'updatedAt'],
        properties: {
          agentId: str,
          name: str,
          credentialHash: str,
          status: { enum: ['pending', 'approved', 'revoked'] },
          enrolledAt: str,
          updatedAt: str,
        },
      },
    },
  },
});

export class FileAgentRegistry implements AgentRegistry {
  /** Serialises writes so they land in call order. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private agents: Map<string, AgentRecord>,
  ) {}

  /** Opens (or starts empty) `<stateDir>/agents.json`, creating the dir; throws RegistryError on a bad file. */
  static async create(stateDir: string): Promise<FileAgentRegistry> {
    await mkdir(stateDir, { recursive: true });
    const path = join(stateDir, AGENT_REGISTRY_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new FileAgentRegistry(path, new Map());
      throw new RegistryError(path, 'cannot read', { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new RegistryError(path, 'not valid JSON', { cause: err });
    }
    if (!validateFile(parsed)) {
      const first = validateFile.errors?.[0];
      throw new RegistryError(path, `invalid: ${first?.instancePath || '/'} ${first?.message ?? ''}`.trim());
    }
    return new FileAgentRegistry(path, new Map(parsed.agents.map((r) => [r.agentId, pick(r)])));
  }

  /** The record of `agentId`, or undefined. */
  async getAgent(agentId: string): Promise<AgentRecord | undefined> {
    const rec = this.agents.get(agentId);
    return rec ? { ...rec } : undefined;
  }

  /** Inserts or replaces a record; resolves once the file holding it is on disk. */
  async putAgent(rec: AgentRecord): Promise<void> {
    const next = this.writing.then(async () => {
      const agents = new Map(this.agents);
      agents.set(rec.agentId, pick(rec));
      await this.write(agents);
      this.agents = agents;
    });
    // A failed write must not wedge the ones after it.
    this.writing = next.catch(() => {});
    return next;
  }

  /** Every record, sorted by agent id. */
  async listAgents(): Promise<AgentRecord[]> {
    return sorted(this.agents).map((r) => ({ ...r }));
  }

  private async write(agents: Map<string, AgentRecord>): Promise<void> {
    const body: RegistryFile = { version: FILE_FORMAT_VERSION, agents: sorted(agents) };
    const tmp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const file = await open(tmp, 'w', 0o600);
      try {
        await file.writeFile(`${JSON.stringify(body, null, 2)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new RegistryError(this.path, 'cannot write', { cause: err });
    }
  }
}

function sorted(agents: Map<string, AgentRecord>): AgentRecord[] {
  return [...agents.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
}

/** A copy holding only the record's own fields. */
function pick(r: AgentRecord): AgentRecord {
  return {
    agentId: r.agentId,
    name: r.name,
    credentialHash: r.credentialHash,
    status: r.status,
    enrolledAt: r.enrolledAt,
    updatedAt: r.updatedAt,
  };
}
