import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/fleet/errors.js';
import { AGENT_REGISTRY_FILE, FileAgentRegistry } from '../../src/fleet/file-registry.js';
import { type AgentRecord, type AgentRegistry, MemoryAgentRegistry } from '../../src/fleet/registry.js';

const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gse-registry-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function record(agentId: string, over: Partial<AgentRecord> = {}): AgentRecord {
  return {
    agentId,
    name: agentId,
    credentialHash: 'a'.repeat(64),
    status: 'approved',
    enrolledAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...over,
  };
}

const implementations: { name: string; make: () => Promise<AgentRegistry> }[] = [
  { name: 'MemoryAgentRegistry', make: async () => new MemoryAgentRegistry() },
  { name: 'FileAgentRegistry', make: async () => FileAgentRegistry.create(await tempDir()) },
];

describe.each(implementations)('AgentRegistry conformance: $name', ({ make }) => {
  it('returns undefined when the agent is unknown', async () => {
    expect(await (await make()).getAgent('nobody')).toBeUndefined();
  });

  it('returns what was put, and the latest put when an agent is put twice', async () => {
    const reg = await make();
    await reg.putAgent(record('sim-1'));
    await reg.putAgent(record('sim-1', { status: 'revoked' }));
    expect(await reg.getAgent('sim-1')).toEqual(record('sim-1', { status: 'revoked' }));
  });

  it('lists every agent sorted by id when several are put', async () => {
    const reg = await make();
    await Promise.all(['sim-3', 'sim-1', 'sim-2'].map((id) => reg.putAgent(record(id))));
    expect((await reg.listAgents()).map((r) => r.agentId)).toEqual(['sim-1', 'sim-2', 'sim-3']);
  });

  it('hands out copies when a caller mutates a record', async () => {
    const reg = await make();
    const rec = record('sim-1');
    await reg.putAgent(rec);
    rec.status = 'revoked';
    const got = await reg.getAgent('sim-1');
    if (got) got.status = 'pending';
    expect((await reg.getAgent('sim-1'))?.status).toBe('approved');
  });
});

describe('FileAgentRegistry', () => {
  it('keeps records when reopened from the same state dir', async () => {
    const dir = await tempDir();
    const reg = await FileAgentRegistry.create(dir);
    await reg.putAgent(record('sim-1'));
    await reg.putAgent(record('sim-2', { status: 'pending', credentialHash: '' }));
    const reopened = await FileAgentRegistry.create(dir);
    expect(await reopened.listAgents()).toEqual([
      record('sim-1'),
      record('sim-2', { status: 'pending', credentialHash: '' }),
    ]);
  });

  it('writes an owner-only file and leaves no temp files when writes complete', async () => {
    const dir = await tempDir();
    const reg = await FileAgentRegistry.create(dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => reg.putAgent(record(`sim-${i}`))));
    expect(await readdir(dir)).toEqual([AGENT_REGISTRY_FILE]);
    expect((await stat(join(dir, AGENT_REGISTRY_FILE))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, AGENT_REGISTRY_FILE), 'utf8')).agents).toHaveLength(10);
  });

  it.each([
    { name: 'not JSON', content: '{', error: 'agents.json: not valid JSON' },
    {
      name: 'a wrong version',
      content: '{"version":2,"agents":[]}',
      error: 'agents.json: invalid: /version',
    },
    {
      name: 'a record with a bad status',
      content: JSON.stringify({ version: 1, agents: [record('a', { status: 'gone' as 'approved' })] }),
      error: 'agents.json: invalid: /agents/0/status',
    },
  ])('throws RegistryError when the file holds $name', async ({ content, error }) => {
    const dir = await tempDir();
    await writeFile(join(dir, AGENT_REGISTRY_FILE), content);
    const opening = FileAgentRegistry.create(dir);
    await expect(opening).rejects.toThrow(RegistryError);
    await expect(opening).rejects.toThrow(error);
  });
});
