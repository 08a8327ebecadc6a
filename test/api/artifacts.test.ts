/**
 * GET/HEAD /api/v1/artifacts/:file on a real controller (HTTPS, SQLite store, real agent records) serving
 * real files from a temp dir: whole files, single ranges, 416, a cut download resumed by the agent's own
 * downloader, names and files that must not be served, and who may download.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIdentity } from '../../agent/identity.js';
import { downloadArtifact } from '../../agent/upgrade/download.js';
import { ArtifactHashMismatchError } from '../../agent/upgrade/errors.js';
import { hashCredential } from '../../src/fleet/index.js';
import type { AgentRecord } from '../../src/fleet/registry.js';
import { startAgentProcess } from '../helpers/agent-process.js';
import { type RunningController, startController, waitFor } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';
import { ADMIN, MemoryPort, serveApi } from './memory-port.js';

const NAME = 'gse-agent-1.2.3.tgz';
/** Several read chunks' worth, so streaming and ranges cross chunk boundaries. */
const SIZE = 300 * 1024 + 17;
const CREDENTIAL = 'agent-credential-0123456789abcdef';
const SECRET_OUTSIDE = 'outside-the-artifact-dir';

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const basic = (id: string, credential: string) =>
  `Basic ${Buffer.from(`${id}:${credential}`).toString('base64')}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const jsonError = (g: Got) =>
  (JSON.parse(g.body.toString('utf8')) as { error: { code: string; message: string } }).error;

describe('GET /api/v1/artifacts/:file', () => {
  let repo: GitRepo;
  let ctl: RunningController;
  let root: string;
  let dir: string;
  let content: Buffer;
  let viewerToken: string;
  const agentAuth = { authorization: basic('host-1', CREDENTIAL) };

  /** One request to the controller, trusting its CA; the body as bytes. */
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> =>
    new Promise((resolve, reject) => {
      const req = request(new URL(path, ctl.url), { method, headers, ca: ctl.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  const artifact = (headers: Record<string, string> = agentAuth, method = 'GET') =>
    get(`/api/v1/artifacts/${NAME}`, headers, method);

  const agent = (agentId: string, status: AgentRecord['status'], credential = CREDENTIAL): AgentRecord => ({
    agentId,
    name: agentId,
    credentialHash: credential === '' ? '' : hashCredential(credential),
    status,
    enrolledAt: '2024-05-01T00:00:00.000Z',
    updatedAt: '2024-05-01T00:00:00.000Z',
  });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gse-artifacts-'));
    dir = join(root, 'artifacts');
    await mkdir(dir);
    content = randomBytes(SIZE);
    await writeFile(join(dir, NAME), content);
    await writeFile(join(dir, '.hidden.tgz'), 'a dotfile');
    await writeFile(join(root, 'outside.tgz'), SECRET_OUTSIDE);
    await symlink(join(root, 'outside.tgz'), join(dir, 'link.tgz'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'inner.tgz'), SECRET_OUTSIDE);
    repo = await gitRepo({ 'fleet/README.md': 'empty fleet\n' });
    ctl = await startController(repo.dir, { path: 'fleet', artifactDir: dir });
    await waitFor('controller running', () => ctl.controller.lifecycle === 'running');
    const store = ctl.controller.store;
    await store.putAgent(agent('host-1', 'approved'));
    await store.putAgent(agent('host-revoked', 'revoked'));
    await store.putAgent(agent('host-pending', 'pending'));
    await store.putAgent(agent('host-reset', 'approved', ''));
    const created = await ctl.api<{ token: string }>('/api/v1/tokens', {
      body: { name: 'reader', role: 'viewer' },
    });
    expect(created.status).toBe(200);
    viewerToken = created.body.token;
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  describe('whole files', () => {
    it('serves the whole file with its bytes and download headers to an agent credential', async () => {
      const res = await artifact();
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(SIZE);
      expect(sha256(res.body)).toBe(sha256(content));
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['content-length']).toBe(String(SIZE));
      expect(res.headers['accept-ranges']).toBe('bytes');
      expect(res.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    });

    it('answers HEAD with the same headers and no body', async () => {
      const res = await artifact(agentAuth, 'HEAD');
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe(String(SIZE));
      expect(res.headers['accept-ranges']).toBe('bytes');
      expect(res.body.length).toBe(0);
    });

    it('serves it to an API token of the lowest role', async () => {
      const res = await artifact({ authorization: `Bearer ${viewerToken}` });
      expect(res.status).toBe(200);
      expect(sha256(res.body)).toBe(sha256(content));
    });
  });

  describe('ranges', () => {
    const CASES: Array<{ name: string; range: string; start: number; end: number }> = [
      { name: 'the first bytes', range: 'bytes=0-99', start: 0, end: 99 },
      { name: 'a middle range across read chunks', range: 'bytes=65000-70000', start: 65000, end: 70000 },
      { name: 'a suffix', range: 'bytes=-100', start: SIZE - 100, end: SIZE - 1 },
      { name: 'an open end', range: 'bytes=1000-', start: 1000, end: SIZE - 1 },
      { name: 'an end past the file', range: `bytes=10-${SIZE * 2}`, start: 10, end: SIZE - 1 },
      { name: 'a suffix longer than the file', range: `bytes=-${SIZE * 2}`, start: 0, end: SIZE - 1 },
    ];
    it.each(CASES)('answers 206 with exactly $name', async ({ range, start, end }) => {
      const res = await artifact({ ...agentAuth, range });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
      expect(res.headers['content-length']).toBe(String(end - start + 1));
      expect(res.body.equals(content.subarray(start, end + 1))).toBe(true);
    });

    it('answers 416 with the size for a range starting at or past the end', async () => {
      for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE + 5}-${SIZE + 10}`, 'bytes=-0']) {
        const res = await artifact({ ...agentAuth, range });
        expect(res.status, range).toBe(416);
        expect(res.headers['content-range']).toBe(`bytes */${SIZE}`);
        expect(jsonError(res).code).toBe('range_not_satisfiable');
      }
    });

    it('sends the whole file for several ranges, another unit or bad syntax', async () => {
      for (const range of ['bytes=0-9,20-29', 'items=0-9', 'bytes=9-2', 'bytes=abc']) {
        const res = await artifact({ ...agentAuth, range });
        expect(res.status, range).toBe(200);
        expect(res.body.length).toBe(SIZE);
      }
    });

    it('keeps the range when If-Range holds the ETag and sends everything when it does not', async () => {
      const etag = (await artifact(agentAuth, 'HEAD')).headers.etag as string;
      const same = await artifact({ ...agentAuth, range: 'bytes=0-9', 'if-range': etag });
      expect(same.status).toBe(206);
      expect(same.body.equals(content.subarray(0, 10))).toBe(true);
      const other = await artifact({ ...agentAuth, range: 'bytes=0-9', 'if-range': '"0-0"' });
      expect(other.status).toBe(200);
      expect(other.body.length).toBe(SIZE);
    });
  });

  describe("the agent's resumable download", () => {
    const url = () => `${ctl.url}/api/v1/artifacts/${NAME}`;

    it('finishes a download cut mid-stream, byte-exact', async () => {
      const dest = join(root, 'cut', NAME);
      await mkdir(join(root, 'cut'));
      // Read part of a real response into <dest>.part, then drop the connection.
      const partial = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let got = 0;
        const req = request(url(), { headers: agentAuth, ca: ctl.ca }, (res) => {
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            got += c.length;
            if (got >= 100 * 1024) {
              req.destroy();
              resolve(Buffer.concat(chunks));
            }
          });
          res.on('end', () => reject(new Error('the whole file arrived; the cut came too late')));
        });
        req.on('error', () => {});
        req.end();
      });
      expect(partial.length).toBeLessThan(SIZE);
      await writeFile(`${dest}.part`, partial);
      await downloadArtifact({
        url: url(),
        dest,
        sha256: sha256(content),
        headers: agentAuth,
        ca: ctl.ca,
        tries: 1,
      });
      expect((await readFile(dest)).equals(content)).toBe(true);
    });

    it('appends only the missing bytes when resuming (a wrong prefix fails the hash)', async () => {
      const dest = join(root, 'wrong', NAME);
      await mkdir(join(root, 'wrong'));
      // Same length as a real prefix, other bytes: were the whole file re-sent, the hash would match.
      await writeFile(`${dest}.part`, Buffer.alloc(5000, 7));
      await expect(
        downloadArtifact({
          url: url(),
          dest,
          sha256: sha256(content),
          headers: agentAuth,
          ca: ctl.ca,
          tries: 1,
        }),
      ).rejects.toBeInstanceOf(ArtifactHashMismatchError);
    });
  });

  describe('what is not served', () => {
    const CASES: Array<{ name: string; path: string }> = [
      { name: 'an unknown file', path: '/api/v1/artifacts/gse-agent-9.9.9.tgz' },
      { name: 'an encoded traversal', path: '/api/v1/artifacts/..%2Foutside.tgz' },
      { name: 'an encoded absolute path', path: '/api/v1/artifacts/%2Fetc%2Fpasswd' },
      { name: 'a double-encoded traversal', path: '/api/v1/artifacts/%252e%252e%252Foutside.tgz' },
      { name: 'encoded dots', path: '/api/v1/artifacts/%2e%2e' },
      { name: 'a path into a subdirectory', path: '/api/v1/artifacts/sub%2Finner.tgz' },
      { name: 'a subdirectory', path: '/api/v1/artifacts/sub' },
      { name: 'a backslash', path: '/api/v1/artifacts/..%5Coutside.tgz' },
      { name: 'a dotfile', path: '/api/v1/artifacts/.hidden.tgz' },
      { name: 'a symlink pointing outside', path: '/api/v1/artifacts/link.tgz' },
    ];
    it.each(CASES)('refuses $name with a 404', async ({ path }) => {
      const res = await get(path, agentAuth);
      expect(res.status).toBe(404);
      expect(res.body.toString('utf8')).not.toContain(SECRET_OUTSIDE);
      expect(jsonError(res).code).toBe('not_found');
    });

    it('names why a symlink is refused', async () => {
      const res = await get('/api/v1/artifacts/link.tgz', agentAuth);
      expect(jsonError(res).message).toContain('symlink');
    });
  });

  describe('who may download', () => {
    const CASES: Array<{ name: string; headers: Record<string, string> }> = [
      { name: 'no credentials', headers: {} },
      { name: 'a wrong credential', headers: { authorization: basic('host-1', 'not-the-credential') } },
      { name: 'an unknown agent', headers: { authorization: basic('host-x', CREDENTIAL) } },
      { name: 'a revoked agent', headers: { authorization: basic('host-revoked', CREDENTIAL) } },
      { name: 'an agent awaiting approval', headers: { authorization: basic('host-pending', CREDENTIAL) } },
      { name: 'an agent whose credential was reset', headers: { authorization: basic('host-reset', '') } },
      { name: 'Basic without a colon', headers: { authorization: `Basic ${btoa('host-1')}` } },
      { name: 'an unknown bearer token', headers: { authorization: 'Bearer not-a-token-0123456789' } },
    ];
    it.each(CASES)('answers 401 with the Basic challenge to $name', async ({ headers }) => {
      const res = await artifact(headers);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="gse-artifacts"');
      expect(res.body.length).toBeLessThan(1000);
      expect(jsonError(res).code).toBe('unauthorized');
    });

    it('serves a real enrolled agent with the credential its handshake gave it', async () => {
      const proc = await startAgentProcess({ controllerUrl: ctl.agentUrl, name: 'real-agent' });
      try {
        const identity = await waitFor('the agent enrolled', async () => {
          const id = await readIdentity(proc.stateDir);
          return id?.credential === undefined ? undefined : id;
        });
        const res = await artifact({ authorization: basic(identity.agentId, identity.credential as string) });
        expect(res.status).toBe(200);
        expect(sha256(res.body)).toBe(sha256(content));
        // Its revocation holds from the next request on.
        expect((await ctl.api(`/api/v1/agents/${identity.agentId}/revoke`, { body: {} })).status).toBe(200);
        const after = await artifact({
          authorization: basic(identity.agentId, identity.credential as string),
        });
        expect(after.status).toBe(401);
      } finally {
        await proc.cleanup();
      }
    });

    it('does not tell an unauthenticated caller which files exist', async () => {
      const res = await get('/api/v1/artifacts/gse-agent-9.9.9.tgz');
      expect(res.status).toBe(401);
    });
  });
});

describe('GET /api/v1/artifacts/:file without --artifact-dir', () => {
  it('answers 404 naming the flag that turns serving on', async () => {
    const api = await serveApi(new MemoryPort());
    try {
      const res = await api.call(`/api/v1/artifacts/${NAME}`, { token: ADMIN });
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toBe('the controller serves no artifacts; start it with --artifact-dir DIR');
    } finally {
      await api.close();
    }
  });
});
