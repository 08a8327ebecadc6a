/**
 * Pure: what differs between a manifest item and what its host reported (or between two desired items, for
 * a preview), as a unified diff of file content where it may be shown and one-line changes otherwise.
 * `gsectl diff`, `diff --tree` and `sync --dry-run` all render with this.
 */
import { unifiedDiff } from '../kernel/line-diff.js';
import type { ManifestConfigFile, ManifestItem } from '../protocol/manifest.js';
import type { ItemReport } from '../protocol/messages.js';

/** The difference of one resource on one host. */
export interface ResourceDiff {
  /** `Kind/name`. */
  key: string;
  /** One line per difference that is not file content: mode, owner, existence, process state, hashes. */
  changes: string[];
  /** Unified diff of the file's text (`---` the host or the old side, `+++` the desired side). */
  diff?: string;
}

/** Mode bit "others may read": a file declared without it is private; its text is never shown. */
const OTHERS_READ = 0o004;
const HASH_CHARS = 12;

/** `0644`-style text of a mode. */
export function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** True when a ConfigFile's text may appear in a diff: utf8 and readable by others. */
export function showableText(item: Pick<ManifestConfigFile, 'encoding' | 'mode'>): boolean {
  return item.encoding === 'utf8' && (item.mode & OTHERS_READ) !== 0;
}

function shortHash(hash: string | undefined): string {
  return hash ? hash.slice(0, HASH_CHARS) : 'none';
}

/** Bytes of a ConfigFile's declared content. */
function declaredSize(item: ManifestConfigFile): number {
  return Buffer.byteLength(item.content, item.encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * The diff of a desired item against the host's last report of it (`host` names the host in labels).
 * Without a report or with nothing observed it still says what it can (state, message).
 */
export function reportedDiff(
  host: string,
  desired: ManifestItem | undefined,
  reported: ItemReport | undefined,
): ResourceDiff {
  const key = desired ? `${desired.kind}/${desired.name}` : `${reported?.kind}/${reported?.name}`;
  const out: ResourceDiff = { key, changes: [] };
  if (!desired) {
    out.changes.push('not in the desired manifest');
    return out;
  }
  if (!reported) {
    out.changes.push('not reported by the host yet');
    return out;
  }
  if (desired.kind === 'ConfigFile') fileDiff(host, desired, reported, out);
  else if (desired.kind === 'ProcessWatch' && reported.process) {
    const { running, pids } = reported.process;
    const now = running ? `running (pids ${pids.join(', ')})` : 'not running';
    if (!running && desired.ensure === 'running') out.changes.push(`process: ${now}; wanted running`);
    else out.changes.push(`process: ${now}`);
  }
  if (reported.message && out.changes.length === 0 && out.diff === undefined)
    out.changes.push(reported.message);
  return out;
}

function fileDiff(host: string, item: ManifestConfigFile, reported: ItemReport, out: ResourceDiff): void {
  const seen = reported.observed;
  if (reported.hash !== item.hash && reported.hash !== '')
    out.changes.push('the host holds another version of this item');
  if (seen && !seen.exists) {
    out.changes.push(`${item.path}: absent on the host`);
    if (showableText(item)) out.diff = unifiedDiff('', item.content, labels(host, item.path));
    return;
  }
  if (seen?.mode !== undefined && seen.mode !== item.mode)
    out.changes.push(`mode ${modeText(seen.mode)} -> ${modeText(item.mode)}`);
  if (item.owner !== undefined && reported.observedOwner && /^(\d+):(\d+)$/.test(item.owner)) {
    if (reported.observedOwner !== item.owner)
      out.changes.push(`owner ${reported.observedOwner} -> ${item.owner}`);
  }
  const contentDiffers = reported.observedHash !== undefined && reported.observedHash !== item.contentHash;
  if (!contentDiffers) return;
  if (seen?.content !== undefined && showableText(item)) {
    out.diff = unifiedDiff(seen.content, item.content, labels(host, item.path));
    return;
  }
  const why =
    seen?.contentOmitted ??
    (showableText(item) ? 'not reported' : item.encoding === 'utf8' ? 'private' : 'binary');
  out.changes.push(
    `content differs (${why}): ${seen?.size ?? '?'} -> ${declaredSize(item)} bytes, sha256 ${shortHash(reported.observedHash)} -> ${shortHash(item.contentHash)}`,
  );
}

function labels(host: string, path: string): { from: string; to: string } {
  return { from: `${host}:${path} (on the host)`, to: `git:${path} (desired)` };
}

/** The diff between the desired item now (`before`) and a planned one (`after`): a preview's view. */
export function desiredDiff(before: ManifestItem | undefined, after: ManifestItem | undefined): ResourceDiff {
  const item = (after ?? before) as ManifestItem;
  const out: ResourceDiff = { key: `${item.kind}/${item.name}`, changes: [] };
  if (before?.kind === 'ConfigFile' || after?.kind === 'ConfigFile') {
    const a = before as ManifestConfigFile | undefined;
    const b = after as ManifestConfigFile | undefined;
    const path = b?.path ?? a?.path ?? '';
    if (a && b && a.path !== b.path) out.changes.push(`path ${a.path} -> ${b.path}`);
    if (a && b && a.mode !== b.mode) out.changes.push(`mode ${modeText(a.mode)} -> ${modeText(b.mode)}`);
    if (a && b && (a.owner ?? '') !== (b.owner ?? ''))
      out.changes.push(`owner ${a.owner ?? 'unset'} -> ${b.owner ?? 'unset'}`);
    if ((a?.contentHash ?? '') !== (b?.contentHash ?? '')) {
      const shown = (a === undefined || showableText(a)) && (b === undefined || showableText(b));
      if (shown)
        out.diff = unifiedDiff(a?.content ?? '', b?.content ?? '', {
          from: a ? `applied:${a.path}` : '/dev/null',
          to: b ? `tree:${path}` : '/dev/null',
        });
      else {
        const why = [a, b].some((x) => x && x.encoding !== 'utf8') ? 'binary' : 'private';
        const side = (x: ManifestConfigFile) =>
          `${declaredSize(x)} bytes, sha256 ${shortHash(x.contentHash)}`;
        out.changes.push(
          a && b
            ? `content (${why}, not shown): ${declaredSize(a)} -> ${declaredSize(b)} bytes, sha256 ${shortHash(a.contentHash)} -> ${shortHash(b.contentHash)}`
            : `content (${why}, not shown): ${side((a ?? b) as ManifestConfigFile)}`,
        );
      }
    }
    if (a && b && a.hash !== b.hash && out.changes.length === 0 && out.diff === undefined)
      out.changes.push(...fieldChanges(a, b));
    return out;
  }
  if (before && after) out.changes.push(...fieldChanges(before, after));
  return out;
}

/** Top-level fields whose JSON differs (for items without content), as `field: old -> new`. */
function fieldChanges(a: ManifestItem, b: ManifestItem): string[] {
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].filter(
    (f) => f !== 'hash' && f !== 'content' && f !== 'contentHash',
  );
  return fields
    .filter((f) => JSON.stringify(ra[f]) !== JSON.stringify(rb[f]))
    .sort()
    .map((f) => `${f}: ${JSON.stringify(ra[f]) ?? 'unset'} -> ${JSON.stringify(rb[f]) ?? 'unset'}`);
}
