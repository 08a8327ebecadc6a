/**
 * Looking before leaping: `POST /api/v1/preview` (a tree that is not committed, planned against the live
 * hosts) and `POST /api/v1/sync/dry-run` (each agent says what applying its desired manifest would change).
 * Neither stores, sends for real nor applies anything.
 */
import { reportedDiff } from '../../controller/resource-diff.js';
import { itemKey } from '../../protocol/manifest.js';
import { badRequest, HttpError, notFound } from '../http-error.js';
import type { ApiPort } from '../port.js';
import type { RequestContext, Route } from '../router.js';
import { selectedConnectedHosts } from './hosts.js';

/** How long a dry run waits for the agents by default, and at most. */
const DEFAULT_DRY_RUN_TIMEOUT_MS = 30_000;
const MAX_DRY_RUN_TIMEOUT_MS = 300_000;
/** Files a preview tree may hold (the body is capped at 1 MiB anyway). */
const MAX_PREVIEW_FILES = 5_000;

/** The preview and dry-run routes. */
export function previewRoutes(port: ApiPort): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/v1/preview',
      role: 'operator',
      handler: async (ctx) => {
        const files = treeOf(await ctx.jsonObject());
        ctx.auditDetail = { files: files.size };
        const outcome = await port.preview(files);
        // An invalid tree is a preview's answer, not a failed call: the errors are what the caller asked for.
        return outcome.ok ? { valid: true, ...outcome.preview } : { valid: false, errors: outcome.errors };
      },
    },
    {
      method: 'POST',
      pattern: '/api/v1/sync/dry-run',
      role: 'operator',
      handler: (ctx) => dryRunHandler(port, ctx),
    },
  ];
}

/**
 * `{files: {"<posix path>": "<base64>"}}` -> the tree. Paths are relative, without `.`/`..` segments or
 * backslashes, as a checkout's would be.
 */
function treeOf(body: Record<string, unknown>): Map<string, Buffer> {
  const files = body.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files))
    throw badRequest(
      'files: an object of {"path/in/tree.yaml": "<base64 content>"} (gsectl diff --tree DIR sends it)',
    );
  const entries = Object.entries(files as Record<string, unknown>);
  if (entries.length > MAX_PREVIEW_FILES)
    throw badRequest(`files: ${entries.length} files, over ${MAX_PREVIEW_FILES}; preview a smaller tree`);
  const tree = new Map<string, Buffer>();
  for (const [path, content] of entries) {
    const segments = path.split('/');
    if (
      path === '' ||
      path.startsWith('/') ||
      path.includes('\\') ||
      segments.some((s) => s === '' || s === '.' || s === '..')
    )
      throw badRequest(`files["${path}"]: a relative posix path inside the tree, without . or .. segments`);
    if (typeof content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(content))
      throw badRequest(`files["${path}"]: the file's content in base64`);
    tree.set(path, Buffer.from(content, 'base64'));
  }
  return tree;
}

/**
 * `{host?, hosts?, timeoutMs?}`: the connected hosts picked (one host, a selector, or every connected host)
 * each asked for a dry run of the manifest the controller wants them to hold now. Git is not fetched: a fetch
 * could apply a revision, which is a change.
 */
async function dryRunHandler(port: ApiPort, ctx: RequestContext): Promise<unknown> {
  const body = await ctx.jsonObject();
  if (body.host !== undefined && typeof body.host !== 'string')
    throw badRequest('host: must be a host id (a string), or left out for every host');
  if (body.host !== undefined && body.hosts !== undefined) throw badRequest('give host or hosts, not both');
  const timeoutMs = body.timeoutMs ?? DEFAULT_DRY_RUN_TIMEOUT_MS;
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs < 1 ||
    timeoutMs > MAX_DRY_RUN_TIMEOUT_MS
  )
    throw badRequest(`timeoutMs: an integer from 1 to ${MAX_DRY_RUN_TIMEOUT_MS}`);
  const host = body.host;
  ctx.auditDetail =
    host !== undefined ? { host } : typeof body.hosts === 'string' ? { hosts: body.hosts } : {};
  let ids: string[];
  if (host !== undefined) {
    if (!(await port.getHost(host))) throw notFound(`no host "${host}"`);
    if (!port.session(host))
      throw new HttpError(409, 'not_connected', `host "${host}" is not connected; a dry run asks its agent`);
    ids = [host];
  } else {
    ids = (await selectedConnectedHosts(port, body.hosts)) ?? port.hostIds().filter((id) => port.session(id));
  }
  const answers = await port.dryRun(ids.sort(), timeoutMs);
  const hosts = [];
  for (const a of answers) {
    const name = port.session(a.hostId)?.facts.name ?? a.hostId;
    if (!a.ok) {
      hosts.push({ hostId: a.hostId, name, ok: false, error: a.error, message: a.message, items: [] });
      continue;
    }
    const desired = new Map((port.manifestFor(a.hostId)?.items ?? []).map((i) => [itemKey(i), i]));
    const items = a.report.items
      .filter((r) => r.state !== 'ok')
      .map((r) => {
        const key = itemKey(r);
        const item = desired.get(key);
        const { changes, diff } = item ? reportedDiff(name, item, r) : { changes: [], diff: undefined };
        return { key, state: r.state, message: r.message ?? '', changes, ...(diff ? { diff } : {}) };
      });
    hosts.push({
      hostId: a.hostId,
      name,
      ok: true,
      revision: a.report.revision,
      items,
      pruned: a.report.pruned ?? [],
    });
  }
  return { hosts };
}
