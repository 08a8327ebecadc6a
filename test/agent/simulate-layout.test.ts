import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/engine/index.js';
import { defaultStateDir } from '../../agent/runtime.js';
import { type SimulatedFleet, simulate } from '../../agent/simulate.js';

describe('simulate state layout', () => {
  let dir: string | undefined;
  let fleet: SimulatedFleet | undefined;
  afterEach(async () => {
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    fleet = undefined;
    dir = undefined;
  });

  it('keeps agent i in the default state dir of root DIR/sim-<i>, where push --root looks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-sim-layout-'));
    // Nothing listens on port 9: the agents start, spool and keep retrying, which is all this needs.
    fleet = await simulate(
      { count: 2, controllerUrl: 'ws://127.0.0.1:9/agent', root: dir, labels: {} },
      silentLogger,
    );
    for (const i of [1, 2]) {
      const stateDir = defaultStateDir(join(dir, `sim-${i}`));
      expect(stateDir).toBe(join(dir, `sim-${i}`, 'var/lib/gse-agent'));
      await expect(access(join(stateDir, 'ingest.sock'))).resolves.toBeUndefined();
      await expect(access(join(stateDir, 'spool'))).resolves.toBeUndefined();
    }
    await expect(access(join(dir, 'sim-1', '.gse-agent'))).rejects.toThrow();
  });

  it('numbers its agents from --first by --step, so several processes hold one fleet of distinct names', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-sim-layout-'));
    fleet = await simulate(
      { count: 2, first: 101, step: 4, controllerUrl: 'ws://127.0.0.1:9/agent', root: dir, labels: {} },
      silentLogger,
    );
    expect(fleet.agents.map((a) => a.agentId)).toEqual(['sim-101', 'sim-105']);
    for (const i of [101, 105])
      await expect(access(join(defaultStateDir(join(dir, `sim-${i}`)), 'spool'))).resolves.toBeUndefined();
    await expect(access(join(dir, 'sim-1'))).rejects.toThrow();
  });
});
