/**
 * `POST /v1/records` on 127.0.0.1 (`--ingest-http PORT`): the body is JSON lines or one JSON array; the
 * answer comes once the accepted records are in the spool. 200 when all were accepted, 422 when some lines
 * were refused (the others are kept), 503 with Retry-After while the agent is under back-pressure or its
 * spool failed, 413 above MAX_HTTP_BODY_BYTES.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from './engine/index.js';
import type { AddOutcome } from './ingest-batcher.js';
import { sumOutcomes } from './ingest-connection.js';
import {
  type EventInput,
  emptyParsed,
  type LineProblem,
  LineSplitter,
  MAX_LINE_BYTES,
  type ParsedLines,
  parseArrayBody,
  parseLines,
  type RecordInput,
} from './ingest-parse.js';

/** The largest request body read. */
export const MAX_HTTP_BODY_BYTES = 8 * 1024 * 1024;
/** Problems listed in one answer; the count is always complete. */
const MAX_LISTED_PROBLEMS = 100;
/** What a back-pressured client is told to wait, in seconds. */
const RETRY_AFTER_SECONDS = 1;
export const INGEST_HTTP_PATH = '/v1/records';

export interface IngestHttpDeps {
  add(inputs: readonly RecordInput[]): Promise<AddOutcome>;
  /** Raises pushed custom events (spooled when it resolves). */
  raise(events: readonly EventInput[]): Promise<AddOutcome>;
  paused(): boolean;
  onCounted(accepted: number, refused: number): void;
  logger: Logger;
  maxBodyBytes?: number;
  maxLineBytes?: number;
}

/** An HTTP server (not yet listening) that ingests records at INGEST_HTTP_PATH. */
export function createIngestHttpServer(deps: IngestHttpDeps): Server {
  return createServer((req, res) => {
    handle(req, res, deps).catch((err: unknown) => {
      deps.logger.error('ingest http request failed', { error: String(err) });
      answer(res, 500, { ok: false, error: 'internal error' });
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: IngestHttpDeps): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== INGEST_HTTP_PATH)
    return answer(res, 404, { ok: false, error: `not found; POST ${INGEST_HTTP_PATH}` });
  if (req.method !== 'POST') return answer(res, 405, { ok: false, error: 'use POST' }, { allow: 'POST' });
  if (deps.paused()) {
    return answer(
      res,
      503,
      { ok: false, code: 'backpressure', error: 'agent spool is full; retry later' },
      { 'retry-after': String(RETRY_AFTER_SECONDS), connection: 'close' },
    );
  }
  const max = deps.maxBodyBytes ?? MAX_HTTP_BODY_BYTES;
  const body = await readBody(req, max);
  if (body === undefined) {
    return answer(res, 413, { ok: false, error: `body larger than ${max} bytes` }, { connection: 'close' });
  }
  const parsed = parseBody(body, deps.maxLineBytes ?? MAX_LINE_BYTES);
  const outcome = sumOutcomes(
    await Promise.all([
      deps.add(parsed.inputs),
      parsed.events.length > 0 ? deps.raise(parsed.events) : undefined,
    ]),
  );
  const refused = parsed.problems.length + outcome.failed;
  deps.onCounted(outcome.accepted, refused);
  const errors: Array<LineProblem | { code: 'spool_failed'; error: string; refused: number }> = [
    ...parsed.problems.slice(0, MAX_LISTED_PROBLEMS),
  ];
  if (outcome.failed > 0) {
    errors.push({ code: 'spool_failed', error: outcome.error ?? 'spool failed', refused: outcome.failed });
  }
  const status = outcome.failed > 0 ? 503 : refused > 0 ? 422 : 200;
  answer(res, status, {
    ok: refused === 0,
    accepted: outcome.accepted,
    refused,
    ...(errors.length > 0 ? { errors } : {}),
  });
}

function parseBody(body: string, maxLineBytes: number): ParsedLines {
  const out = emptyParsed();
  if (parseArrayBody(body, out, maxLineBytes)) return out;
  const splitter = new LineSplitter(maxLineBytes);
  return parseLines([...splitter.push(body), ...splitter.end()], maxLineBytes);
}

/** The body as text, or undefined once it passes `max` bytes (the rest is not read). */
async function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
