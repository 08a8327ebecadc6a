/**
 * Decides, before any connection, whether the agent may use a controller URL: the link carries the
 * bootstrap token, credentials and every manifest, so plain ws:// is refused unless the operator says
 * --insecure. Pure, so the rules are tested with tables.
 */

export class LinkSecurityError extends Error {
  readonly code = 'insecure_link';
  constructor(message: string) {
    super(message);
    this.name = 'LinkSecurityError';
  }
}

export interface LinkSecurityInput {
  /** The controller URL as given (ws://, wss://, http:// or https://). */
  url: string;
  /** `--ca FILE`: the CA the controller's certificate must chain to. */
  caFile?: string;
  /** `--insecure`: allow a plain ws:// link (labs and benches only). */
  insecure?: boolean;
}

/** 'tls' for wss:// (and https://), 'plain' for ws:// allowed by --insecure; throws LinkSecurityError otherwise. */
export function checkControllerLink(input: LinkSecurityInput): 'tls' | 'plain' {
  let protocol: string;
  try {
    protocol = new URL(input.url).protocol;
  } catch {
    throw new LinkSecurityError(`--controller "${input.url}" is not a URL (expected wss://HOST:PORT/agent)`);
  }
  if (protocol === 'wss:' || protocol === 'https:') return 'tls';
  if (protocol === 'ws:' || protocol === 'http:') {
    if (input.insecure) return 'plain';
    if (input.caFile)
      throw new LinkSecurityError(
        `--controller ${input.url} is plain ws:// but --ca was given: use wss:// (the controller serves TLS with gsectl serve --tls-cert/--tls-key)`,
      );
    throw new LinkSecurityError(
      `refusing plain ${protocol}// controller URL ${input.url}: the bootstrap token, credentials and manifests would cross the network in clear text. ` +
        'Serve the controller with `gsectl serve --tls-cert FILE --tls-key FILE` and use --controller wss://HOST:PORT/agent --ca CA_FILE, ' +
        'or pass --insecure to accept a plain link (labs only)',
    );
  }
  throw new LinkSecurityError(
    `--controller ${input.url}: unsupported scheme ${protocol} (expected wss://HOST:PORT/agent)`,
  );
}

/** Node's TLS error codes for a certificate that does not verify, so logs can say what to fix. */
const CERT_ERROR_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A connect error as one line; a certificate failure says which CA flag to check. */
export function describeConnectError(err: Error & { code?: string }): string {
  if (err.code && CERT_ERROR_CODES.has(err.code))
    return `TLS: the controller's certificate is not trusted (${err.code}: ${err.message}); check that --ca names the CA that signed the controller's --tls-cert`;
  return err.code ? `${err.code}: ${err.message}` : err.message;
}
