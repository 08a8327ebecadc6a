/** Typed errors of the upgrade path; each message is what the AgentVersion item reports. */

export class UpgradeError extends Error {
  readonly code: string = 'upgrade_failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpgradeError';
  }
}

/** The downloaded artifact is not the one the AgentVersion pins. Nothing was switched. */
export class ArtifactHashMismatchError extends UpgradeError {
  override readonly code = 'sha256_mismatch';
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `artifact ${url} has sha256 ${actual}, the AgentVersion pins ${expected}; refused, nothing was switched (fix spec.artifact.sha256 or the file)`,
    );
    this.name = 'ArtifactHashMismatchError';
  }
}

/** The artifact could not be fetched (network, HTTP status). */
export class ArtifactDownloadError extends UpgradeError {
  override readonly code = 'download_failed';
  constructor(
    readonly url: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot download artifact ${url}: ${detail}`, options);
    this.name = 'ArtifactDownloadError';
  }
}

/** The artifact is not a gse-agent package of the wanted version. */
export class ArtifactContentError extends UpgradeError {
  override readonly code = 'bad_artifact';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArtifactContentError';
  }
}

/** The launcher's install dir has no `current` version. */
export class NotInstalledError extends UpgradeError {
  override readonly code = 'not_installed';
  constructor(readonly installDir: string) {
    super(
      `${installDir}/current is missing: install a package first (gse-agent install --artifact FILE --install-dir ${installDir})`,
    );
    this.name = 'NotInstalledError';
  }
}
