/**
 * GSE write-back against a real controller following a real (bare) Git repo: GSE.md §3's add_streamto and
 * add_route land as commits authored by the caller, are validated and applied before the call answers (so
 * query_route returns them at once), an invalid call pushes nothing, a hand-written Route is not GSE's to
 * change, concurrent calls all land, a branch that moved under a push is decided again, and a branch that
 * refuses pushes says so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GitStepError,
  GseWriter,
  InvalidTreeError,
  PushRejectedError,
  type RevisionOutcome,
  WRITE_DIRS,
} from '../../src/gse-write/index.js';
import { streamToId } from '../../src/routing/gse-query.js';
import { httpCall, type RunningController, startController } from '../helpers/controller.js';
import { type GitRepo, gitRepo } from '../helpers/git-repo.js';

const run = promisify(execFile);

const SPECS = `apiVersion: gse/v1
kind: StreamTarget
metadata: { name: archive }
spec:
  file: { path: archive/alarms.jsonl }
---
apiVersion: gse/v1
kind: Route
metadata: { name: hand-kept }
spec:
  channel: 1000
  targets: [{ name: archive }]
`;

interface Envelope<T> {
  result: boolean;
  code: number;
  message: string;
  data: T;
  request_id: string;
}

interface Channel {
  metadata: { channel_id: number; label: Record<string, unknown> };
  route: Array<{ name: string; stream_to: { stream_to_id: number } }>;
}

async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: dir });
  return stdout.trim();
}

describe('GSE write-back', () => {
  let repo: GitRepo;
  let bare: string;
  let ctl: RunningController;
  let secret: string;

  /** A GSE call as bk-monitor sends it through the gateway, as user `user`. */
  async function gse<T>(path: string, body: unknown, user = 'alice'): Promise<Envelope<T>> {
    const res = await httpCall(`${ctl.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-bkapi-authorization': JSON.stringify({
          bk_app_code: 'bk_monitorv3',
          bk_app_secret: secret,
          bk_username: user,
        }),
      },
      body: JSON.stringify(body),
      ...(ctl.ca ? { ca: ctl.ca } : {}),
    });
    expect(res.status).toBe(200);
    return JSON.parse(res.text) as Envelope<T>;
  }

  const head = () => git(bare, 'rev-parse', 'refs/heads/main');

  beforeAll(async () => {
    repo = await gitRepo({ 'data.yaml': SPECS });
    const parent = await mkdtemp(join(tmpdir(), 'gse-bare-'));
    bare = join(parent, 'fleet.git');
    await run('git', ['clone', '-q', '--bare', repo.dir, bare]);
    ctl = await startController(bare, { gseWriteBack: true });
    const made = await ctl.api<{ token: string }>('/api/v1/tokens', {
      body: { name: 'bk-monitor', role: 'operator', appCode: 'bk_monitorv3' },
    });
    secret = made.body.token;
  });
  afterAll(async () => {
    await ctl?.cleanup();
    await repo?.cleanup();
    if (bare) await rm(join(bare, '..'), { recursive: true, force: true });
  });

  it('commits add_streamto and add_route as the caller, validated and applied before it answers', async () => {
    const added = await gse<{ stream_to_id: number; name: string }>('/api/v2/data/add_streamto', {
      metadata: { plat_name: 'bkmonitor', label: { bk_biz_id: 2 } },
      operation: { operator_name: 'alice' },
      stream_to: { name: 'mq_stream_to_7', report_mode: 'file', data_log_path: 'archive/mq7.jsonl' },
    });
    expect(added).toMatchObject({ result: true, code: 0, data: { name: 'mq_stream_to_7' } });
    const streamToIdOf7 = added.data.stream_to_id;
    expect(streamToIdOf7).toBe(streamToId('mq-stream-to-7'));

    const route = await gse<{ channel_id: number }>(
      '/api/v2/data/add_route',
      {
        metadata: { plat_name: 'bkmonitor', channel_id: 1001, label: { odm: 'bkmonitor', bk_biz_id: 2 } },
        operation: { operator_name: 'alice' },
        route: [{ name: 'stream_to_bkmonitor_file_7', stream_to: { stream_to_id: streamToIdOf7 } }],
        stream_filters: [],
      },
      'bob',
    );
    expect(route).toMatchObject({ result: true, code: 0, data: { channel_id: 1001 } });

    // Applied before the answer: the controller's revision is the branch head, and query_route serves it.
    const sha = await head();
    expect(ctl.controller.reconciler.current?.id).toBe(sha);
    const query = await gse<Channel[]>('/api/v2/data/query_route', {
      condition: { channel_id: 1001, plat_name: 'bkmonitor' },
      operation: { operator_name: 'alice' },
    });
    expect(query.data).toEqual([
      expect.objectContaining({
        metadata: expect.objectContaining({ channel_id: 1001, label: { odm: 'bkmonitor', bk_biz_id: 2 } }),
        route: [
          expect.objectContaining({
            name: 'stream_to_bkmonitor_file_7',
            stream_to: { stream_to_id: streamToIdOf7 },
          }),
        ],
      }),
    ]);
    const streamTo = await gse<Array<{ stream_to: { name: string } }>>('/api/v2/data/query_streamto', {
      condition: { plat_name: 'bkmonitor', stream_to_id: streamToIdOf7 },
    });
    expect(streamTo.data.map((s) => s.stream_to.name)).toEqual(['mq_stream_to_7']);

    // git log: one commit per call, authored by the caller, committed by the controller.
    const log = await git(bare, 'log', '-2', '--format=%an <%ae>|%cn|%s|%H');
    expect(log.split('\n')).toEqual([
      `bob <bob@bk>|gse-gitops|gse: add_route channel 1001|${sha}`,
      expect.stringMatching(/^alice <alice@bk>\|gse-gitops\|gse: add_streamto mq_stream_to_7\|/),
    ]);
    expect(await git(bare, 'show', `${sha}:${WRITE_DIRS.route}/channel-1001.yaml`)).toContain(
      'channel: 1001',
    );
    // The revision went through the ingest like any commit: recorded as accepted.
    const revisions = await ctl.api<{ items: Array<{ sha: string; status: string; author: string }> }>(
      '/api/v1/revisions',
    );
    expect(revisions.body.items).toContainEqual(
      expect.objectContaining({ sha, status: 'accepted', author: 'bob <bob@bk>' }),
    );

    // An update that changes nothing answers at once with no new commit.
    const same = await gse<{ stream_to_id: number }>('/api/c/compapi/v2/gse/config_update_streamto/', {
      condition: { plat_name: 'bkmonitor', stream_to_id: streamToIdOf7, label: { bk_biz_id: 2 } },
      operation: { operator_name: 'alice' },
      specification: {
        stream_to: { name: 'mq_stream_to_7', report_mode: 'file', data_log_path: 'archive/mq7.jsonl' },
      },
    });
    expect(same).toMatchObject({ result: true, data: { stream_to_id: streamToIdOf7 } });
    expect(await head()).toBe(sha);
  });

  it('pushes nothing for a call GSE or the validator refuses', async () => {
    const before = await head();
    const unknownTarget = await gse('/api/v2/data/add_route', {
      metadata: { plat_name: 'bkmonitor', channel_id: 1002 },
      route: [{ name: 'x', stream_to: { stream_to_id: 4242 } }],
    });
    expect(unknownTarget).toMatchObject({ result: false, code: 1000001, data: null });
    expect(unknownTarget.message).toContain('route[0].stream_to.stream_to_id: stream_to 4242 not found');

    // The spec language needs at least one target: the loader refuses the tree, with the field path.
    const noTargets = await gse('/api/c/compapi/v2/gse/config_add_route/', {
      metadata: { plat_name: 'bkmonitor', channel_id: 1003 },
      route: [],
    });
    expect(noTargets).toMatchObject({ result: false, code: 1000001 });
    expect(noTargets.message).toContain('does not validate, nothing was pushed');
    expect(noTargets.message).toContain('spec.targets');

    // A target a Route still sends to cannot go: the cross-reference check refuses it.
    const inUse = await gse('/api/v2/data/delete_streamto', {
      condition: { plat_name: 'bkmonitor', stream_to_id: streamToId('mq-stream-to-7') },
      operation: { operator_name: 'alice' },
    });
    expect(inUse).toMatchObject({ result: false, code: 1000001 });
    expect(inUse.message).toContain('mq-stream-to-7');

    // A Route written by hand is not GSE's to change; a channel that does not exist is "not found".
    const handKept = await gse('/api/v2/data/update_route', {
      condition: { channel_id: 1000, plat_name: 'bkmonitor' },
      specification: { route: [] },
    });
    expect(handKept).toMatchObject({ result: false, code: 1000409 });
    expect(handKept.message).toContain('declared in data.yaml by hand');
    const missing = await gse('/api/v2/data/delete_route', {
      condition: { channel_id: 9999, plat_name: 'bkmonitor' },
      operation: { operator_name: 'alice', method: 'all' },
    });
    expect(missing).toMatchObject({ result: false, code: 1014505 });
    expect(missing.message).toContain('not found');

    // Writes need the operator role: a viewer token is refused before anything is decided.
    const viewer = await ctl.api<{ token: string }>('/api/v1/tokens', {
      body: { name: 'bk-viewer', role: 'viewer', appCode: 'bk_viewer' },
    });
    const denied = await httpCall(`${ctl.url}/api/v2/data/add_route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        bk_app_code: 'bk_viewer',
        bk_app_secret: viewer.body.token,
        metadata: { plat_name: 'bkmonitor', channel_id: 1004 },
        route: [{ name: 'x', stream_to: { stream_to_id: streamToId('archive') } }],
      }),
      ...(ctl.ca ? { ca: ctl.ca } : {}),
    });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text)).toMatchObject({ result: false, code: 1000403 });

    expect(await head()).toBe(before);
  });

  it('lands two concurrent add_route calls, each as its own commit', async () => {
    const call = (channel: number, user: string) =>
      gse<{ channel_id: number }>(
        '/api/v2/data/add_route',
        {
          metadata: { plat_name: 'bkmonitor', channel_id: channel },
          route: [{ name: `r${channel}`, stream_to: { stream_to_id: streamToId('archive') } }],
        },
        user,
      );
    const [a, b] = await Promise.all([call(2001, 'carol'), call(2002, 'dave')]);
    expect(a).toMatchObject({ result: true, data: { channel_id: 2001 } });
    expect(b).toMatchObject({ result: true, data: { channel_id: 2002 } });
    const subjects = (await git(bare, 'log', '-2', '--format=%an|%s')).split('\n').sort();
    expect(subjects).toEqual(['carol|gse: add_route channel 2001', 'dave|gse: add_route channel 2002']);
    const both = await gse<Channel[]>('/api/v2/data/query_route', { condition: {} });
    expect(both.data.map((c) => c.metadata.channel_id)).toEqual(expect.arrayContaining([2001, 2002]));

    // Without a channel_id, GSE allocates one: here the next free id from 1,700,000,000 on.
    const allocated = await gse<{ channel_id: number }>('/api/v2/data/add_route', {
      metadata: { plat_name: 'bkmonitor' },
      route: [{ name: 'allocated', stream_to: { stream_to_id: streamToId('archive') } }],
    });
    expect(allocated).toMatchObject({ result: true, data: { channel_id: 1_700_000_000 } });
  });

  it('decides again on the new head when another writer pushed first', async () => {
    const other = await mkdtemp(join(tmpdir(), 'gse-other-'));
    try {
      await run('git', ['clone', '-q', bare, other]);
      const writer = await GseWriter.create(
        {
          remoteUrl: bare,
          branch: 'main',
          specPath: '.',
          workDir: join(ctl.stateDir, 'gse-write', 'second'),
          secrets: { env: [] },
        },
        {
          fetchNow: () => ctl.controller.fetchNow(),
          onRevision: (l: (o: RevisionOutcome) => void) => ctl.controller.onRevisionOutcome(l),
          appliedRevision: () => ctl.controller.reconciler.current?.id,
          logger: { warn: () => {} },
          // A person pushes a StreamTarget between this writer's first commit and its push.
          beforePush: async (attempt) => {
            if (attempt !== 1) return;
            await run('git', ['pull', '-q', 'origin', 'main'], { cwd: other });
            await run(
              'sh',
              [
                '-c',
                "printf 'apiVersion: gse/v1\\nkind: StreamTarget\\nmetadata: { name: by-hand }\\nspec:\\n  file: { path: archive/by-hand.jsonl }\\n' > by-hand.yaml && git add by-hand.yaml && git -c user.name=Person -c user.email=p@x commit -qm 'by hand' && git push -q origin HEAD:main",
              ],
              { cwd: other },
            );
          },
        },
      );
      const landed = await writer.write({
        action: 'add_route',
        body: {
          metadata: { plat_name: 'bkmonitor', channel_id: 3001 },
          route: [{ name: 'r3001', stream_to: { stream_to_id: streamToId('archive') } }],
        },
        author: 'frank',
        via: 'test',
        requestId: 'r-1',
      });
      expect(landed.attempts).toBe(2);
      expect(await git(bare, 'log', '-2', '--format=%an|%s')).toBe(
        'frank|gse: add_route channel 3001\nPerson|by hand',
      );
      // Both the person's target and the route are in the applied revision.
      expect(ctl.controller.reconciler.current?.id).toBe(landed.sha);
      const kinds = ctl.controller.reconciler.current?.byKind;
      expect(kinds?.StreamTarget.map((t) => t.metadata.name)).toContain('by-hand');
      expect(kinds?.Route.map((r) => r.metadata.name)).toContain('gse-channel-3001');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('says clearly when the branch refuses pushes, and pushes nothing', async () => {
    // A non-bare repo refuses pushes to its checked-out branch, as a protected branch would.
    const writer = await GseWriter.create(
      {
        remoteUrl: repo.dir,
        branch: 'main',
        specPath: '.',
        workDir: join(ctl.stateDir, 'gse-write', 'refused'),
        secrets: { env: [] },
      },
      {
        fetchNow: async () => undefined,
        onRevision: () => () => {},
        appliedRevision: () => undefined,
        logger: { warn: () => {} },
      },
    );
    const before = await repo.head();
    const err = await writer
      .write({
        action: 'add_streamto',
        body: { stream_to: { name: 'x', report_mode: 'file', data_log_path: 'archive/x.jsonl' } },
        author: 'alice',
        via: 'test',
        requestId: 'r-3',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushRejectedError);
    expect((err as PushRejectedError).message).toContain('branch main rejects pushes');
    expect((err as PushRejectedError).message).toContain('checked out');
    expect(await repo.head()).toBe(before);
    expect(err).not.toBeInstanceOf(InvalidTreeError);

    // A branch the remote does not have is a git step that failed, named as such.
    const missing = await GseWriter.create(
      {
        remoteUrl: bare,
        branch: 'no-such-branch',
        specPath: '.',
        workDir: join(ctl.stateDir, 'gse-write', 'missing'),
        secrets: { env: [] },
      },
      {
        fetchNow: async () => undefined,
        onRevision: () => () => {},
        appliedRevision: () => undefined,
        logger: { warn: () => {} },
      },
    );
    const gitErr = await missing
      .write({
        action: 'delete_route',
        body: { condition: { channel_id: 1 } },
        author: 'a',
        via: 't',
        requestId: 'r',
      })
      .catch((e: unknown) => e);
    expect(gitErr).toBeInstanceOf(GitStepError);
    expect((gitErr as GitStepError).message).toContain('could not fetch branch no-such-branch');
  });
});

describe('GSE write-back under a spec path', () => {
  it('writes under the --path sub-tree and validates that tree', async () => {
    const repo = await gitRepo({ 'fleet/data.yaml': SPECS, 'README.md': 'not a spec\n' });
    const parent = await mkdtemp(join(tmpdir(), 'gse-bare-'));
    const bare = join(parent, 'fleet.git');
    await run('git', ['clone', '-q', '--bare', repo.dir, bare]);
    const ctl = await startController(bare, { gseWriteBack: true, path: 'fleet' });
    try {
      const res = await ctl.api<Envelope<{ stream_to_id: number }>>('/api/v1/gse/add_streamto', {
        body: { stream_to: { name: 'sub', report_mode: 'file', data_log_path: 'archive/sub.jsonl' } },
      });
      expect(res.body).toMatchObject({ result: true, data: { stream_to_id: streamToId('sub') } });
      const files = await git(bare, 'ls-tree', '-r', '--name-only', 'main');
      expect(files.split('\n')).toEqual(['README.md', 'fleet/data.yaml', 'fleet/gse/streamto/sub.yaml']);
      // Bearer callers are authors by their token's name: the flag token here.
      expect(await git(bare, 'log', '-1', '--format=%an <%ae>')).toBe('admin <admin@bk>');
      expect(ctl.controller.reconciler.current?.byKind.StreamTarget.map((t) => t.metadata.name)).toContain(
        'sub',
      );
    } finally {
      await ctl.cleanup();
      await repo.cleanup();
      await rm(parent, { recursive: true, force: true });
    }
  });
});
