/** Starts a real `redis-server` on a free loopback port for a test, and stops it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisHandle {
  port: number;
  url: string;
  dir: string;
  /** Stops the server (SIGTERM, then waits for exit). Data in `dir` is kept until `cleanup`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and dir (after `stop`). */
  restart(): Promise<void>;
  /** Stops it and removes its dir. */
  cleanup(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(proc: ChildProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        proc.stdout?.off('data', onData);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-2000)}`)));
  });
}

/** Starts redis-server on a free port with AOF on, so a restart keeps what was written. */
export async function startRedis(): Promise<RedisHandle> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'gse-redis-'));
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitReady(proc);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop,
    restart: launch,
    cleanup: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
