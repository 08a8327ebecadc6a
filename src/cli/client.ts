/** The HTTP client of gsectl's remote commands: server URL, token and CA from flags or env, errors made plain. */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { readText, send } from './transport.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7070';

export class ApiClientError extends Error {
  readonly code: string;
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiClientError';
    this.code = code;
  }
}

export interface ClientOptions {
  server: string;
  token?: string;
  /** PEM of the CA that signed the controller's certificate (`--ca` / GSE_CA). */
  ca?: Buffer;
}

/** Server, token and CA from `--server`/`--token`/`--ca`, else GSE_SERVER/GSE_TOKEN/GSE_CA. */
export function clientOptions(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions {
  const server = (typeof values.server === 'string' ? values.server : env.GSE_SERVER) ?? DEFAULT_SERVER;
  const token = typeof values.token === 'string' ? values.token : env.GSE_TOKEN;
  const caFile = typeof values.ca === 'string' ? values.ca : env.GSE_CA;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new ApiClientError(
        0,
        'bad_ca',
        `--ca ${caFile}: cannot read the CA certificate: ${(err as Error).message}`,
      );
    }
  }
  return { server: server.replace(/\/+$/, ''), token, ...(ca ? { ca } : {}) };
}

/** Node's TLS codes for a certificate that does not verify against the trusted CAs. */
const UNTRUSTED_CERT = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A transport error as an ApiClientError that says what to change. */
export function connectError(server: string, err: Error & { code?: string }): ApiClientError {
  const code = err.code ?? '';
  if (UNTRUSTED_CERT.has(code))
    return new ApiClientError(
      0,
      'tls_untrusted',
      `TLS: cannot verify ${server}: ${code}: ${err.message}; pass --ca FILE or set GSE_CA to the CA that signed the controller's certificate`,
    );
  if (
    code === 'EPROTO' ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /wrong version number/i.test(err.message)
  )
    return new ApiClientError(
      0,
      'tls_mismatch',
      `TLS handshake with ${server} failed (${err.message}); the controller may serve plain HTTP: check the scheme of --server / GSE_SERVER`,
    );
  if (code === 'ECONNRESET' || /socket hang up/i.test(err.message))
    return new ApiClientError(
      0,
      'connection_reset',
      `${server} closed the connection (${code || err.message}); if the controller serves TLS, use https:// in --server / GSE_SERVER`,
    );
  return new ApiClientError(
    0,
    'unreachable',
    `cannot reach ${server}: ${code ? `${code}: ` : ''}${err.message}; is \`gsectl serve\` running? (--server / GSE_SERVER)`,
  );
}

export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  /** GET a JSON path under /api/v1. */
  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** POST JSON to a path under /api/v1. */
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** DELETE a path under /api/v1; the response as JSON. */
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /**
   * POST and read the response as JSON lines, calling `onLine` for each as it arrives and `onChunk` (if
   * given) after the lines of each chunk read.
   */
  async stream(
    path: string,
    body: unknown,
    onLine: (line: unknown) => void,
    onChunk?: () => void,
  ): Promise<void> {
    const res = await this.send('POST', path, body);
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) onLine(JSON.parse(line));
        nl = buffered.indexOf('\n');
      }
      onChunk?.();
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    return JSON.parse(await readText(res)) as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    const url = `${this.options.server}/api/v1/${path.replace(/^\//, '')}`;
    let res: IncomingMessage;
    try {
      res = await send({
        method,
        url,
        headers: {
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        ca: this.options.ca,
      });
    } catch (err) {
      throw connectError(this.options.server, err as Error & { code?: string });
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const text = await readText(res).catch(() => '');
      let payload: { error?: { code?: string; message?: string } } = {};
      try {
        payload = JSON.parse(text) as typeof payload;
      } catch {
        // not JSON: the status line says enough
      }
      const hint = status === 401 ? ' (pass --token or set GSE_TOKEN)' : '';
      throw new ApiClientError(
        status,
        payload.error?.code ?? 'http_error',
        `${payload.error?.message ?? res.statusMessage ?? `HTTP ${status}`}${hint}`,
      );
    }
    return res;
  }
}
