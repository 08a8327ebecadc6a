/**
 * Where GSE process operations' desired state lives (src/gse-task/overrides.ts): with write-back on, in Git
 * (one commit of ProcessOverride files per operation, through the GseWriter, answered once applied); with it
 * off, in the store. Plans read both: the store's holds, then the applied revision's ProcessOverride
 * documents over them (a hold committed to Git wins).
 */
import { randomBytes } from 'node:crypto';
import { GseError } from '../gse-task/errors.js';
import {
  type DesiredStateOverride,
  holdsOfRevision,
  type ProcessOverride,
  type StoredProcessOverrides,
} from '../gse-task/overrides.js';
import { GseWriteError, type GseWriter, type HoldChange, PROCESS_HOLD_ACTION } from '../gse-write/index.js';
import type { Revision } from '../spec/types.js';

export interface ProcessHoldsDeps {
  store: StoredProcessOverrides;
  /** The revision the controller applies now. */
  revision(): Revision | undefined;
  /** The write-back, when on (opened after the controller is built). */
  writer(): GseWriter | undefined;
}

export class ProcessHolds implements DesiredStateOverride {
  constructor(private readonly deps: ProcessHoldsDeps) {}

  forHost(hostId: string): readonly ProcessOverride[] {
    const inGit = holdsOfRevision(this.deps.revision()).get(hostId) ?? [];
    const stored = this.deps.store.forHost(hostId);
    if (stored.length === 0) return inGit;
    return [...stored.filter((o) => !inGit.some((g) => g.name === o.name)), ...inGit];
  }

  async setAll(overrides: readonly ProcessOverride[]): Promise<void> {
    if (overrides.length === 0) return;
    const writer = this.deps.writer();
    if (!writer) return this.deps.store.setAll(overrides);
    const changes: HoldChange[] = overrides.map((o) => ({
      hostId: o.hostId,
      watch: o.name,
      ensure: o.ensure,
      op: o.op as NonNullable<HoldChange['op']>,
    }));
    await this.commit(writer, changes, overrides[0]?.by ?? 'unknown');
  }

  async clear(hostId: string, name: string): Promise<void> {
    const writer = this.deps.writer();
    const inGit = (holdsOfRevision(this.deps.revision()).get(hostId) ?? []).some((o) => o.name === name);
    if (this.deps.store.forHost(hostId).some((o) => o.name === name))
      await this.deps.store.clear(hostId, name);
    if (writer && inGit) await this.commit(writer, [{ hostId, watch: name, ensure: null }], 'gse-gitops');
  }

  /** One commit of `changes`; a refused write becomes GSE's error for the call. */
  private async commit(writer: GseWriter, changes: HoldChange[], author: string): Promise<void> {
    try {
      await writer.write({
        action: PROCESS_HOLD_ACTION,
        body: { changes },
        author,
        via: 'GSE process operation',
        requestId: randomBytes(16).toString('hex'),
      });
    } catch (err) {
      if (err instanceof GseWriteError)
        throw new GseError(err.gseCode, `process hold not committed: ${err.message}`);
      throw err;
    }
  }
}
