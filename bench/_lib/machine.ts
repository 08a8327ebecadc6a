/**
 * What this machine charges for the kernel's work that every bench leans on: a page fault, a small
 * syscall, a process start. Virtual machines differ here by 5-50x where their CPUs differ by 2x, and
 * a figure against an absolute goal means little without them (a fork from a big process is page-table
 * work; a frame past 128 KiB is fresh pages). Printed beside each bench's figures; takes ~0.3 s.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { median, round } from './util.js';

export interface MachineProbe {
  /** First touch of a page of fresh memory (a 16 MiB buffer), ns per 4 KiB page. */
  pageFaultNs: number;
  /** One fstat(2) from Node, ns. */
  syscallNs: number;
  /** spawnSync('/bin/true') from this process (its size counts: fork copies its page tables), ms. */
  spawnTrueMs: number;
}

function nsSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0);
}

function pageFaultNs(): number {
  const bytes = 16 * 2 ** 20;
  const t0 = process.hrtime.bigint();
  const buf = Buffer.allocUnsafeSlow(bytes);
  for (let i = 0; i < bytes; i += 4096) buf[i] = 1;
  return nsSince(t0) / (bytes / 4096);
}

function syscallNs(fd: number): number {
  const calls = 20_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fstatSync(fd);
  return nsSince(t0) / calls;
}

function spawnTrueMs(): number {
  const spawns = 10;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < spawns; i++) spawnSync('/bin/true');
  return nsSince(t0) / spawns / 1e6;
}

/** Medians of three rounds of each probe. */
export function probeMachine(): MachineProbe {
  const fd = openSync(process.execPath, 'r');
  try {
    const rounds = [0, 1, 2];
    return {
      pageFaultNs: Math.round(median(rounds.map(pageFaultNs))),
      syscallNs: Math.round(median(rounds.map(() => syscallNs(fd)))),
      spawnTrueMs: round(median(rounds.map(spawnTrueMs)), 2),
    };
  } finally {
    closeSync(fd);
  }
}
