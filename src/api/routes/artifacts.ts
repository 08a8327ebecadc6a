/**
 * GET/HEAD /api/v1/artifacts/:file — the agent packages in `--artifact-dir`, for agents to download.
 *
 * How an agent authenticates: `Authorization: Basic base64(agentId:credential)`, the per-agent credential
 * the ws handshake gave it (identity.json), checked as the handshake checks it (approved, hash compared
 * timing-safe); it trusts the controller's CA (`--ca`) as it does for wss://. An API bearer token of any
 * role is accepted too (an operator checking a package). Anything else is 401 with
 * `WWW-Authenticate: Basic realm="gse-artifacts"`.
 *
 * Only regular files directly in the directory are served: the name has no `/`, `\`, NUL or leading dot,
 * and the file is opened with O_NOFOLLOW (a symlink is refused) and checked to be a regular file on the
 * handle it is read from. The body streams from that handle; one `Range: bytes=` range gives 206, a
 * range past the end 416; several ranges get the whole file (200). `If-Range` with the ETag (or the
 * Last-Modified date) keeps the range; with anything else the whole file is sent.
 */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Authenticator } from '../auth.js';
import { decideRange } from '../byte-range.js';
import { HttpError, notFound, unauthorized } from '../http-error.js';
import type { ApiPort } from '../port.js';
import { HANDLED, type RequestContext, type Route } from '../router.js';

/** The realm agents see in the 401 challenge. */
export const ARTIFACT_REALM = 'gse-artifacts';
/** File names served: no path separator, no leading dot, nothing a shell or URL would bend. */
const SERVABLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
/** O_NONBLOCK keeps a FIFO planted in the directory from blocking the open; regular files ignore it. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The artifact routes; `tokens` is the API's bearer authenticator (any role may download). */
export function artifactRoutes(port: ApiPort, tokens: Authenticator): Route[] {
  const handler = (ctx: RequestContext) => serveArtifact(ctx, port, tokens);
  return [
    { method: 'GET', pattern: '/api/v1/artifacts/:file', role: 'public', handler },
    { method: 'HEAD', pattern: '/api/v1/artifacts/:file', role: 'public', handler },
  ];
}

async function serveArtifact(ctx: RequestContext, port: ApiPort, tokens: Authenticator): Promise<symbol> {
  const caller = await authenticate(ctx, port, tokens);
  const dir = port.config.artifactDir;
  if (dir === undefined)
    throw notFound('the controller serves no artifacts; start it with --artifact-dir DIR');
  const name = ctx.params.file as string;
  if (!SERVABLE_NAME.test(name))
    throw notFound(
      `"${name}" is not a servable artifact name: only files directly in the artifact dir, not starting with a dot`,
    );
  const handle = await openRegular(join(dir, name), name);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw notFound(`no artifact "${name}": it is not a regular file`);
    const cut = await send(ctx, handle, st);
    port.logger.debug?.(cut ? 'artifact transfer cut short' : 'artifact served', {
      file: name,
      caller,
      status: ctx.res.statusCode,
      range: ctx.req.headers.range,
      ...(cut ? { err: cut } : {}),
    });
    return HANDLED;
  } finally {
    await handle.close().catch(() => {});
  }
}

/** The caller's name (`agent:ID` or the token's name); throws 401 with the Basic challenge. */
async function authenticate(ctx: RequestContext, port: ApiPort, tokens: Authenticator): Promise<string> {
  const header = ctx.req.headers.authorization;
  const challenge = (message: string) => {
    ctx.res.setHeader('www-authenticate', `Basic realm="${ARTIFACT_REALM}"`);
    return unauthorized(message);
  };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (basic) {
    const text = Buffer.from(basic[1] as string, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const agentId = colon > 0 ? text.slice(0, colon) : '';
    if (agentId !== '' && (await port.agents.verifyCredential(agentId, text.slice(colon + 1))))
      return `agent:${agentId}`;
    throw challenge('agent credential rejected: send Basic base64(agentId:credential) of an approved agent');
  }
  const auth = await tokens.authenticate(header);
  if (auth.ok) return auth.actor.name;
  if (auth.reason === 'revoked')
    throw challenge(`token "${auth.name}" was revoked; ask an admin for a new one`);
  throw challenge(
    'artifacts need an agent credential (HTTP Basic agentId:credential) or an API bearer token',
  );
}

/** Opens `path` without following a symlink; a missing file, a symlink or a FIFO is a 404 naming `name`. */
async function openRegular(path: string, name: string): Promise<FileHandle> {
  try {
    return await open(path, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`no artifact "${name}" in the artifact dir`);
    if (code === 'ELOOP' || code === 'EMLINK')
      throw notFound(`no artifact "${name}": it is a symlink; put the file itself in the artifact dir`);
    if (code === 'EACCES' || code === 'EISDIR' || code === 'ENXIO')
      throw notFound(`no artifact "${name}": it is not a readable regular file`);
    throw err;
  }
}

/**
 * Writes the headers and streams the body (or the range of it) from `handle`; the error text when the
 * transfer was cut (the client went away: it resumes with a range), else undefined.
 */
async function send(ctx: RequestContext, handle: FileHandle, st: Stats): Promise<string | undefined> {
  const { req, res } = ctx;
  const etag = `"${st.size.toString(16)}-${Math.trunc(st.mtimeMs).toString(16)}"`;
  const lastModified = st.mtime.toUTCString();
  const ifRange = req.headers['if-range'];
  const honourRange = ifRange === undefined || ifRange === etag || ifRange === lastModified;
  const decision = decideRange(honourRange ? req.headers.range : undefined, st.size);
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    etag,
    'last-modified': lastModified,
    'cache-control': 'private, no-cache',
  };
  if (decision.kind === 'unsatisfiable') {
    res.setHeader('content-range', `bytes */${st.size}`);
    throw new HttpError(
      416,
      'range_not_satisfiable',
      `range ${req.headers.range} is outside the file (${st.size} bytes)`,
    );
  }
  const [start, end] = decision.kind === 'partial' ? [decision.start, decision.end] : [0, st.size - 1];
  const length = end - start + 1;
  if (decision.kind === 'partial') headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
  res.writeHead(decision.kind === 'partial' ? 206 : 200, { ...headers, 'content-length': length });
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return undefined;
  }
  try {
    // The stream reads the handle the checks were made on; serveArtifact closes it.
    await pipeline(handle.createReadStream({ start, end, autoClose: false }), res);
    return undefined;
  } catch (err) {
    res.destroy();
    return String(err);
  }
}
