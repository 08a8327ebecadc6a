/**
 * A resumable artifact download: bytes go to `<dest>.part`; a later call asks for the rest with a Range
 * request; the whole file is checked against the pinned sha256 before it is renamed to `dest`.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { ArtifactDownloadError, ArtifactHashMismatchError } from './errors.js';

export interface DownloadOptions {
  url: string;
  dest: string;
  sha256: string;
  /** Headers sent (credentials go only to the controller's own origin; the caller decides). */
  headers?: Record<string, string>;
  /** PEM CA trusted for https (the controller's pinned CA); default the system roots. */
  ca?: string | Buffer;
  /** Tries on network errors and 5xx; default 3. */
  tries?: number;
  sleep?(ms: number): Promise<void>;
}

/** Delay between tries of a failed download. */
const RETRY_DELAY_MS = 1_000;

/** sha256 (hex) of a file. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function sizeOf(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.size,
    () => undefined,
  );
}

/** Downloads (or finishes downloading) the artifact into `dest` and verifies it; throws typed errors. */
export async function downloadArtifact(opts: DownloadOptions): Promise<void> {
  if ((await sizeOf(opts.dest)) !== undefined) {
    if ((await fileSha256(opts.dest)) === opts.sha256) return;
    await rm(opts.dest, { force: true });
  }
  const tries = opts.tries ?? 3;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let i = 1; ; i++) {
    try {
      await fetchRest(opts);
      break;
    } catch (err) {
      const retriable = err instanceof ArtifactDownloadError && !/HTTP 4\d\d/.test(err.message);
      if (!retriable || i >= tries) throw err;
      await sleep(RETRY_DELAY_MS);
    }
  }
  const part = `${opts.dest}.part`;
  const actual = await fileSha256(part);
  if (actual !== opts.sha256) {
    await rm(part, { force: true });
    throw new ArtifactHashMismatchError(opts.url, opts.sha256, actual);
  }
  await rename(part, opts.dest);
}

/** One request for what `<dest>.part` lacks, appended to it. */
async function fetchRest(opts: DownloadOptions): Promise<void> {
  const part = `${opts.dest}.part`;
  const have = (await sizeOf(part)) ?? 0;
  const res = await get(opts, have > 0 ? { range: `bytes=${have}-` } : {});
  if (res.statusCode === 416 && have > 0) {
    res.resume(); // the part is already whole (or longer): the hash check decides
    return;
  }
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    const body = await readSome(res);
    throw new ArtifactDownloadError(opts.url, `HTTP ${res.statusCode} ${body}`.trim());
  }
  const append = res.statusCode === 206;
  if (append && !String(res.headers['content-range'] ?? '').startsWith(`bytes ${have}-`)) {
    res.resume();
    await rm(part, { force: true });
    throw new ArtifactDownloadError(opts.url, `the server answered another range than bytes=${have}-`);
  }
  try {
    await pipeline(res, createWriteStream(part, { flags: append ? 'a' : 'w', mode: 0o644 }));
  } catch (err) {
    throw new ArtifactDownloadError(opts.url, `transfer cut short: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function get(opts: DownloadOptions, extra: Record<string, string>): Promise<IncomingMessage> {
  const u = new URL(opts.url);
  const https = u.protocol === 'https:';
  if (!https && u.protocol !== 'http:')
    return Promise.reject(new ArtifactDownloadError(opts.url, 'only http:// and https:// URLs are fetched'));
  const request = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: 'GET',
        headers: { ...opts.headers, ...extra },
        ...(https && opts.ca ? { ca: opts.ca } : {}),
        timeout: 30_000,
      },
      resolve,
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) =>
      reject(new ArtifactDownloadError(opts.url, (err as Error).message, { cause: err })),
    );
    req.end();
  });
}

/** The first bytes of an error body (the API's JSON message), for the report. */
async function readSome(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) {
    if (text.length < 300) text += String(chunk);
  }
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) return parsed.error.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}
