/**
 * `gsectl diff --tree DIR`: validates DIR with the controller's loader (errors as file:line:col, exit 1, the
 * controller not asked), then sends it to `POST /api/v1/preview`, which plans it against the live hosts and
 * answers what each host would get added, changed or removed, and which hosts selectors would newly pick or
 * drop. Nothing is committed or applied. Exit 0 when nothing would change, 1 when something would.
 */
import { resolve } from 'node:path';
import { createSpecLoader, readTreeChecked } from '../../spec/load.js';
import { formatSpecError, type SpecError } from '../../spec/types.js';
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import type { CommandResult } from '../output.js';
import { hostHeader, type ResourceDiffView, renderResource } from './diff-render.js';

interface PreviewHostView {
  hostId: string;
  name: string;
  added: ResourceDiffView[];
  changed: ResourceDiffView[];
  removed: ResourceDiffView[];
  errors: Array<{ resource: string; message: string }>;
}

interface PreviewView {
  valid: boolean;
  errors?: SpecError[];
  from?: string;
  to?: string;
  hostCount?: number;
  hosts?: PreviewHostView[];
  selectors?: Array<{ resource: string; added: string[]; dropped: string[] }>;
}

/** Validates locally, then previews on the controller. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const dir = input.values.tree as string;
  const tree = await readTreeChecked(resolve(dir)).catch((err: NodeJS.ErrnoException) => {
    throw new Error(
      `gsectl diff --tree ${dir}: cannot read the tree (${err.code ?? err.message}); give a directory of spec files`,
    );
  });
  const local =
    tree.errors.length > 0
      ? { ok: false as const, errors: tree.errors }
      : await createSpecLoader().loadAsync(tree.files, { symlinks: tree.symlinks });
  if (!local.ok) return invalid(dir, local.errors, 'nothing was sent to the controller');
  const files: Record<string, string> = {};
  for (const [path, bytes] of tree.files) files[path] = bytes.toString('base64');
  const preview = await new ApiClient(clientOptions(input.values)).post<PreviewView>('preview', { files });
  // The controller checks secret references against its own policy, which the local load cannot know.
  if (!preview.valid) return invalid(dir, preview.errors ?? [], 'the controller refused the tree');
  const changes = (preview.hosts ?? []).some((h) => h.added.length + h.changed.length + h.removed.length > 0);
  const failing = (preview.hosts ?? []).some((h) => h.errors.length > 0);
  return {
    exitCode: changes || failing || (preview.selectors ?? []).length > 0 ? 1 : 0,
    data: preview,
    table: () => renderPreview(dir, preview),
  };
}

function invalid(dir: string, errors: SpecError[], what: string): CommandResult {
  return {
    exitCode: 1,
    data: { valid: false, errors },
    table: () =>
      [...errors.map(formatSpecError), '', `${dir}: ${errors.length} error(s); ${what}`].join('\n'),
  };
}

/** The human view: per host, `+`/`~`/`-` resources with their diffs, then selector changes. */
export function renderPreview(dir: string, p: PreviewView): string {
  const out: string[] = [];
  const hosts = p.hosts ?? [];
  for (const h of hosts) {
    if (out.length > 0) out.push('');
    out.push(hostHeader(h.hostId, h.name));
    for (const r of h.added) out.push(...renderResource({ ...r, state: 'added' }));
    for (const r of h.changed) out.push(...renderResource({ ...r, state: 'changed' }));
    for (const r of h.removed) out.push(...renderResource({ ...r, state: 'removed' }));
    for (const e of h.errors) out.push(`  ${e.resource}  cannot be planned  ${e.message}`);
  }
  const selectors = p.selectors ?? [];
  if (selectors.length > 0) {
    if (out.length > 0) out.push('');
    out.push('selectors');
    for (const s of selectors) {
      const parts = [
        s.added.length > 0 ? `newly picks ${s.added.join(', ')}` : '',
        s.dropped.length > 0 ? `drops ${s.dropped.join(', ')}` : '',
      ].filter(Boolean);
      out.push(`  ${s.resource}  ${parts.join('; ')}`);
    }
  }
  if (out.length === 0) return `${dir}: valid; no host would change (${p.hostCount ?? 0} host(s) planned)`;
  out.push(
    '',
    `${dir}: valid; ${hosts.length} of ${p.hostCount ?? 0} host(s) would change (nothing was applied)`,
  );
  return out.join('\n');
}
