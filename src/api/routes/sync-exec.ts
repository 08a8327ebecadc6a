/** POST /api/v1/sync (re-send manifests after a fetch) and POST /api/v1/exec (ad-hoc scripts, streamed). */
import { randomUUID } from 'node:crypto';
import type { ExecStarted } from '../../controller/exec-service.js';
import { parseSelectorText } from '../../controller/selector-text.js';
import type { ExecutionRecord } from '../../store/types.js';
import { badRequest, HttpError, notFound } from '../http-error.js';
import type { ApiPort } from '../port.js';
import { HANDLED, type RequestContext, type Route } from '../router.js';
import { selectedConnectedHosts } from './hosts.js';

/** The sync and exec routes. */
export function syncExecRoutes(port: ApiPort): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/v1/sync',
      role: 'operator',
      handler: async (ctx) => {
        const body = await ctx.jsonObject();
        if (body.host !== undefined && typeof body.host !== 'string')
          throw badRequest('host: must be a host id (a string), or left out for every host');
        const host = body.host;
        ctx.auditDetail =
          host === undefined ? (typeof body.hosts === 'string' ? { hosts: body.hosts } : {}) : { host };
        if (host !== undefined && !(await port.getHost(host))) throw notFound(`no host "${host}"`);
        const selected = await selectedConnectedHosts(port, body.hosts);
        const revision = await port.fetchNow();
        if (host !== undefined && !port.session(host))
          throw new HttpError(409, 'not_connected', `host "${host}" is not connected`);
        const hosts = await port.forceSync(host === undefined ? selected : [host]);
        return { revision: revision?.sha ?? null, hosts };
      },
    },
    { method: 'POST', pattern: '/api/v1/exec', role: 'operator', handler: (ctx) => execHandler(port, ctx) },
  ];
}

/** How much of an exec script the audit record keeps. */
const MAX_AUDITED_SCRIPT_CHARS = 1_000;

/** What `runAs` may be: a POSIX-ish user name, optionally `:group` (the agent resolves both). */
const RUN_AS = /^[a-z_][a-z0-9_.-]*(?::[a-z_][a-z0-9_.-]*)?$/i;

/**
 * POST /api/v1/exec `{hosts: "role=web", script, timeoutMs?, interpreter?, runAs?, wait?, callback?}`: sends the script and,
 * with `wait` (default true), streams one JSON line per host result as it arrives, then a summary line. Hosts
 * the selector picks that are not connected are not run: each gets an `offline` line, and the summary (and
 * the `wait: false` answer) lists them as `offline`.
 */
async function execHandler(c: Pick<ApiPort, 'exec'>, ctx: RequestContext): Promise<unknown> {
  const body = await ctx.jsonObject();
  if (typeof body.script !== 'string' || body.script === '')
    throw badRequest('script: required, the command to run');
  if (typeof body.hosts !== 'string')
    throw badRequest('hosts: required, a selector such as role=web or web-* or *');
  const sel = parseSelectorText(body.hosts);
  if (!sel.ok) throw badRequest(`hosts: ${sel.error}`);
  const timeoutMs = body.timeoutMs === undefined ? undefined : Number(body.timeoutMs);
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    throw badRequest('timeoutMs: a positive number of milliseconds');
  if (body.runAs !== undefined && (typeof body.runAs !== 'string' || !RUN_AS.test(body.runAs)))
    throw badRequest('runAs: a user name or user:group, e.g. "nobody" or "www-data:www-data"');
  // `callback`: one signed POST of every host's result once the task ends (checked by the exec service).
  if (body.callback !== undefined && typeof body.callback !== 'string')
    throw badRequest('callback: an http:// or https:// URL, e.g. "https://ci.example.com/gse-result"');
  // Subscribed before the task goes out: a fast host can answer before start() resolves, and a result
  // heard by nobody would leave the stream waiting until its deadline.
  const taskId = randomUUID();
  const early: ExecutionRecord[] = [];
  let onRecord: (rec: ExecutionRecord) => void = (rec) => early.push(rec);
  const unsubscribe = c.exec.subscribe(taskId, (rec) => onRecord(rec));
  let started: ExecStarted;
  try {
    started = await c.exec.start({
      selector: sel.selector,
      script: body.script,
      interpreter: typeof body.interpreter === 'string' ? body.interpreter : undefined,
      timeoutMs,
      ...(typeof body.runAs === 'string' ? { runAs: body.runAs } : {}),
      ...(typeof body.callback === 'string' ? { callback: body.callback } : {}),
      requestedBy: ctx.actor?.name ?? 'unknown',
      taskId,
    });
    // Audited as soon as the task is out, not when the stream ends: a dropped stream must not hide it.
    ctx.auditDetail = {
      taskId: started.taskId,
      hosts: started.hosts.length,
      selector: body.hosts,
      script: body.script.slice(0, MAX_AUDITED_SCRIPT_CHARS),
      ...(typeof body.callback === 'string' ? { callback: body.callback } : {}),
    };
    await ctx.auditNow();
  } catch (err) {
    unsubscribe();
    throw err;
  }
  if (body.wait === false) {
    unsubscribe();
    return started;
  }
  const res = ctx.res;
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.write(`${JSON.stringify({ type: 'started', ...started })}\n`);
  for (const hostId of started.offline)
    res.write(`${JSON.stringify({ type: 'offline', taskId: started.taskId, hostId, status: 'offline' })}\n`);
  const pending = new Set(started.hosts);
  const counts: Record<string, number> = {};
  // Results stored in one turn of the event loop leave as one chunk in one socket write: a write per result
  // costs a chunk header, the line and a CRLF each, all gathered into one writev of 3 buffers per host.
  let lines = '';
  const flushLines = () => {
    if (lines === '') return;
    res.write(lines);
    lines = '';
  };
  await new Promise<void>((resolve) => {
    const finish = () => {
      unsubscribe();
      clearTimeout(timer);
      resolve();
    };
    onRecord = (rec) => {
      if (!pending.delete(rec.hostId)) return;
      counts[rec.status] = (counts[rec.status] ?? 0) + 1;
      if (lines === '') process.nextTick(flushLines);
      lines += `${JSON.stringify({ type: 'result', ...rec })}\n`;
      if (pending.size === 0) finish();
    };
    // Hosts that never answer (disconnected mid-run) are reported as pending, not waited on forever.
    const timer = setTimeout(finish, (timeoutMs ?? 60_000) + 10_000);
    ctx.req.on('close', finish);
    for (const rec of early.splice(0)) onRecord(rec);
    if (pending.size === 0) finish();
  });
  const summary = `${JSON.stringify({ type: 'summary', taskId: started.taskId, hosts: started.hosts.length, ...counts, pending: [...pending], offline: started.offline })}\n`;
  // The last results go out with the summary, in the same chunk.
  res.end(lines + summary);
  lines = '';
  return HANDLED;
}
