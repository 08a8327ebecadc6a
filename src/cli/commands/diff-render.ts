/** The human view of diffs (`gsectl diff`, `diff --tree`, `sync --dry-run`): headers, change lines, indented unified diffs. */

/** One resource's difference as the API answers it. */
export interface ResourceDiffView {
  key: string;
  /** Sync state (diff), item state (dry run) or added/changed/removed (preview). */
  state?: string;
  message?: string;
  changes: string[];
  diff?: string;
}

const INDENT = '    ';

/** `  KEY  STATE  message`, then each change and the diff, indented under it. */
export function renderResource(r: ResourceDiffView): string[] {
  const head = ['  ', r.key, r.state ? `  ${r.state}` : '', r.message ? `  ${r.message}` : ''].join('');
  const lines = [head];
  for (const c of r.changes) if (c !== r.message) lines.push(`${INDENT}${c}`);
  if (r.diff) for (const l of r.diff.replace(/\n$/, '').split('\n')) lines.push(`${INDENT}${l}`);
  return lines;
}

/** `host NAME (ID)` or `host ID`. */
export function hostHeader(hostId: string, name: string | undefined): string {
  return name && name !== hostId ? `host ${name} (${hostId})` : `host ${hostId}`;
}
