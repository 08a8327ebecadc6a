/**
 * A real HTTP receiver of signed notifications on 127.0.0.1: it checks X-GSE-Signature against its secret
 * (401 when it does not verify), records what it accepted, and can be closed and reopened on the same port
 * to play a receiver that is down for a while.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../src/notify/sign.js';

export interface Received {
  id: string;
  body: Record<string, unknown>;
  raw: string;
  headers: IncomingHttpHeaders;
}

export interface Receiver {
  url: string;
  port: number;
  /** Every accepted POST, re-sends included, in arrival order. */
  accepted: Received[];
  /** POSTs refused because their signature did not verify. */
  rejected: number;
  /** Accepted bodies, one per id (what a deduping receiver keeps). */
  unique(): Received[];
  /** Stops listening (the port is then closed: connections are refused). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
}

/**
 * A receiver verifying with any of `secrets` (as during a rotation), on `port` (default a free one);
 * `listening: false` starts it closed.
 */
export async function startReceiver(
  secrets: string | string[],
  port = 0,
  listening = true,
): Promise<Receiver> {
  const keys = typeof secrets === 'string' ? [secrets] : secrets;
  let server: Server | undefined;
  const r: Receiver = {
    url: '',
    port,
    accepted: [],
    rejected: 0,
    unique() {
      const seen = new Map<string, Received>();
      for (const d of r.accepted) if (!seen.has(d.id)) seen.set(d.id, d);
      return [...seen.values()];
    },
    async close() {
      const s = server;
      server = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    async reopen() {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks);
          const signature = req.headers['x-gse-signature'] as string | undefined;
          if (!keys.some((k) => verifySignature(raw, k, signature))) {
            r.rejected++;
            res.writeHead(401).end('bad signature');
            return;
          }
          const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
          r.accepted.push({ id: String(body.id), body, raw: raw.toString('utf8'), headers: req.headers });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(r.port, '127.0.0.1', () => resolve());
      });
      server = s;
      r.port = (s.address() as AddressInfo).port;
      r.url = `http://127.0.0.1:${r.port}/hook`;
    },
  };
  if (listening) await r.reopen();
  else r.url = `http://127.0.0.1:${port}/hook`;
  return r;
}
