/**
 * The mount table (`/proc/self/mounts`, the format of fstab): which mount holds a path, and whether it is
 * read-only. Parsing and lookup are pure; the reader is injected into the host checks.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';

/** The mount table of the agent's own mount namespace. */
export const MOUNTS_FILE = '/proc/self/mounts';

export interface MountEntry {
  device: string;
  /** The mount point (octal escapes such as `\040` decoded). */
  mountPoint: string;
  fstype: string;
  options: string[];
}

/** `\040` (space), `\011` (tab), `\012` (newline), `\134` (backslash): how the kernel escapes fields. */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** The entries of a mount table; lines with fewer than four fields are skipped. */
export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, mountPoint, fstype, options] = line.trim().split(/\s+/);
    if (!device || !mountPoint || !fstype || !options) continue;
    entries.push({
      device: unescapeField(device),
      mountPoint: unescapeField(mountPoint),
      fstype,
      options: options.split(','),
    });
  }
  return entries;
}

/**
 * The mount that holds an absolute `path`: the longest mount point that is the path or one of its parents;
 * the last such entry wins, since a later mount on the same point hides the earlier one.
 */
export function mountHolding(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  const target = posix.normalize(path);
  let best: MountEntry | undefined;
  for (const e of entries) {
    const mp = e.mountPoint;
    const holds = mp === '/' || target === mp || target.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (holds && (!best || mp.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

/** True when the mount is read-only (`ro` among its options). */
export function mountReadOnly(entry: MountEntry): boolean {
  return entry.options.includes('ro');
}

/** Reads the mount table (default MOUNTS_FILE). */
export async function readMountTable(file = MOUNTS_FILE): Promise<MountEntry[]> {
  return parseMounts(await readFile(file, 'utf8'));
}
