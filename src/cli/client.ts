/** The HTTP client of gsectl's remote commands: server URL and token from flags or env, errors made plain. */

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
}

/** Server and token from `--server`/`--token`, else GSE_SERVER/GSE_TOKEN. */
export function clientOptions(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions {
  const server = (typeof values.server === 'string' ? values.server : env.GSE_SERVER) ?? DEFAULT_SERVER;
  const token = typeof values.token === 'string' ? values.token : env.GSE_TOKEN;
  return { server: server.replace(/\/+$/, ''), token };
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

  /** POST and read the response as JSON lines, calling `onLine` for each as it arrives. */
  async stream(path: string, body: unknown, onLine: (line: unknown) => void): Promise<void> {
    const res = await this.fetch('POST', path, body);
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) onLine(JSON.parse(line));
        nl = buffered.indexOf('\n');
      }
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    return (await res.json()) as T;
  }

  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const url = `${this.options.server}/api/v1/${path.replace(/^\//, '')}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiClientError(
        0,
        'unreachable',
        `cannot reach ${this.options.server}: ${(err as Error).cause ?? err}; is \`gsectl serve\` running? (--server / GSE_SERVER)`,
      );
    }
    if (!res.ok) {
      const payload = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      const hint = res.status === 401 ? ' (pass --token or set GSE_TOKEN)' : '';
      throw new ApiClientError(
        res.status,
        payload.error?.code ?? 'http_error',
        `${payload.error?.message ?? res.statusText}${hint}`,
      );
    }
    return res;
  }
}
