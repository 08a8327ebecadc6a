/** bk-job's file calls over a fake port: what each target is sent, results in GSE's fields, refusals. */
import { describe, expect, it } from 'vitest';
import { ATOMIC, GSE_BAD_REQUEST, GseError } from '../../src/gse-task/errors.js';
import {
  getTransferFileResult,
  MAX_TRANSFER_BYTES,
  parsePermission,
  TRANSFER_MODE,
  transferFile,
} from '../../src/gse-task/transfer.js';
import type { PutFileMessage } from '../../src/protocol/messages.js';
import { fakePort } from './fake-port.js';

const HOSTS = [
  { hostId: 'web-1', ips: ['10.0.0.1'], cloudId: 0, alive: true },
  { hostId: 'web-2', ips: ['10.0.0.2'], cloudId: 0, alive: false },
];
const ctx = { caller: 'bk-job' };
const SOURCES = { '/files/app.conf': 'port=80\n', '/files/big.bin': 'x'.repeat(MAX_TRANSFER_BYTES + 1) };

function request(
  fileName = 'app.conf',
  agents = [{ bk_agent_id: 'web-1', user: 'www' }, { bk_agent_id: '0:10.0.0.2' }],
) {
  return {
    tasks: [
      {
        source: {
          file_name: fileName,
          store_dir: '/files',
          agent: { bk_agent_id: 'file-worker', bk_container_id: '' },
        },
        target: { file_name: '', store_dir: '/etc/app/', permission: 640, agents },
      },
    ],
    timeout_seconds: 60,
    auto_mkdir: false,
  };
}

describe('async_transfer_file and get_transfer_file_result', () => {
  it('sends each target the bytes, path, mode and owner, and answers download and upload entries', async () => {
    const port = await fakePort(HOSTS, {}, SOURCES);
    const { result } = await transferFile(request(), ctx, port);
    expect(result.task_id).toMatch(/^GSETASK:F:/);
    expect(port.sent.map((s) => s.hostIds)).toEqual([['web-1'], ['web-2']]);
    const msg = port.sent[0]?.messages[0] as PutFileMessage;
    expect(msg).toMatchObject({
      type: 'putFile',
      path: '/etc/app/app.conf',
      mode: 0o640,
      owner: 'www',
      mkdir: false,
    });
    expect(Buffer.from(msg.content, 'base64').toString()).toBe('port=80\n');

    const running = await getTransferFileResult({ task_id: result.task_id }, port);
    expect(running.result.map((e) => [e.content.mode, e.content.dest_agent_id, e.error_code])).toEqual([
      [TRANSFER_MODE.upload, '', ATOMIC.done],
      [TRANSFER_MODE.download, 'web-1', ATOMIC.running],
      [TRANSFER_MODE.download, '0:10.0.0.2', ATOMIC.agentAbnormal],
    ]);
    await port.finish(`${result.task_id}/0`, 'web-1', {});
    const done = await getTransferFileResult(
      { task_id: result.task_id, agents: [{ bk_agent_id: 'web-1' }] },
      port,
    );
    expect(done.result).toHaveLength(1);
    expect(done.result[0]).toMatchObject({
      error_code: ATOMIC.done,
      content: {
        dest_file_dir: '/etc/app/',
        dest_file_name: 'app.conf',
        size: 8,
        progress: 100,
        source_agent_id: 'file-worker',
      },
    });
    const cmdb = await getTransferFileResult(
      { task_id: result.task_id, agent_id_list: ['0:10.0.0.2'] },
      port,
    );
    expect(cmdb.result.map((e) => e.content.dest_agent_id)).toEqual(['0:10.0.0.2']);
  });

  it('fails a target whose write failed with a file error, and a file too large without sending it', async () => {
    const port = await fakePort(HOSTS, {}, SOURCES);
    const { result } = await transferFile(request(), ctx, port);
    await port.finish(`${result.task_id}/0`, 'web-1', {
      status: 'failed',
      exitCode: 1,
      stderrTail: 'cannot write',
    });
    const polled = await getTransferFileResult(
      { task_id: result.task_id, agents: [{ bk_agent_id: 'web-1' }] },
      port,
    );
    expect(polled.result[0]).toMatchObject({ error_code: ATOMIC.fileError, error_msg: 'cannot write' });

    const big = await transferFile(request('big.bin', [{ bk_agent_id: 'web-1', user: '' }]), ctx, port);
    const bigResult = await getTransferFileResult(
      { task_id: big.result.task_id, agent_id_list: ['web-1'] },
      port,
    );
    expect(bigResult.result[0]?.error_code).toBe(ATOMIC.fileTooLarge);
    expect(port.sent).toHaveLength(2);
  });

  it.each([
    { name: 'a whole directory', body: request(''), error: 'tasks[0].source.file_name: must name one file' },
    { name: 'a missing source', body: request('nope.conf'), error: 'source /files/nope.conf: not found' },
    {
      name: 'a relative target dir',
      body: {
        tasks: [
          {
            source: { file_name: 'app.conf', store_dir: '/files' },
            target: { store_dir: 'etc', agents: [{ bk_agent_id: 'web-1' }] },
          },
        ],
      },
      error: 'tasks[0].target.store_dir: must be an absolute path',
    },
    {
      name: 'a bad permission',
      body: {
        tasks: [
          {
            source: { file_name: 'app.conf', store_dir: '/files' },
            target: { store_dir: '/etc', permission: 'rw', agents: [{ bk_agent_id: 'web-1' }] },
          },
        ],
      },
      error: 'tasks[0].target.permission: "rw" is not an octal mode',
    },
  ])('refuses $name, naming it, and sends nothing', async ({ body, error }) => {
    const port = await fakePort(HOSTS, {}, SOURCES);
    const err = await transferFile(body, ctx, port).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GseError);
    expect((err as GseError).gseCode).toBe(GSE_BAD_REQUEST);
    expect((err as GseError).message).toContain(error);
    expect(port.sent).toEqual([]);
  });

  it.each([
    { input: 644, mode: 0o644 },
    { input: '0755', mode: 0o755 },
    { input: undefined, mode: undefined },
    { input: '', mode: undefined },
  ])('reads permission $input', ({ input, mode }) => {
    expect(parsePermission(input, 'permission')).toBe(mode);
  });
});
