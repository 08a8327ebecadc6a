/**
 * Turns what the Git source yields into an accepted Revision or a rejected record: load and validate the
 * tree, check the signature when required, and record every revision seen. A rejected revision never
 * replaces the last good one.
 */
import { lstat } from 'node:fs/promises';
import type { SourceRevision } from '../source/revision.js';
import { createSpecLoader, readTreeChecked, type SecretPolicy, type SizeLimits } from '../spec/load.js';
import type { Revision, SpecError } from '../spec/types.js';
import type { RevisionRecord, Store } from '../store/types.js';

export type IngestResult =
  | { accepted: true; revision: Revision; record: RevisionRecord }
  | { accepted: false; record: RevisionRecord };

export interface RevisionIngestorDeps {
  store: Store;
  now(): number;
  /** Reject commits whose signature did not verify (when the source checks signatures). */
  requireSignature: boolean;
  /** The secrets specs may reference; default none (every reference is refused). */
  secrets?: SecretPolicy;
  /** Size limits of a revision; default 1 MiB per spec file, 64 MiB per revision. */
  limits?: Partial<SizeLimits>;
}

export class RevisionIngestor {
  private readonly loader = createSpecLoader();

  constructor(private readonly deps: RevisionIngestorDeps) {}

  /** Loads and records one revision from the source. */
  async ingest(src: SourceRevision): Promise<IngestResult> {
    const base = {
      sha: src.sha,
      author: src.authorEmail ? `${src.author} <${src.authorEmail}>` : src.author,
      authoredAt: src.authoredAt,
      message: src.message.split('\n')[0] ?? '',
      seenAt: new Date(this.deps.now()).toISOString(),
    };
    let errors: SpecError[];
    let revision: Revision | undefined;
    if (this.deps.requireSignature && !src.signature?.verified) {
      errors = [
        {
          file: '(commit)',
          line: 0,
          col: 0,
          path: '',
          message: `signature not verified: ${src.signature?.detail ?? 'no signature check ran'}; sign the commit with a trusted key`,
        },
      ];
    } else {
      // The spec path itself committed as a symlink (`fleet -> /`) would make the whole filesystem the tree.
      const rootIsLink = (await lstat(src.treeDir).catch(() => undefined))?.isSymbolicLink() === true;
      const tree = rootIsLink
        ? undefined
        : await readTreeChecked(src.treeDir, this.deps.limits?.maxRevisionBytes).catch((err: unknown) =>
            err instanceof Error ? err : new Error(String(err)),
          );
      if (tree === undefined) {
        errors = [
          {
            file: '.',
            line: 1,
            col: 1,
            path: '',
            message:
              'the spec path is a symlink in this commit; it must be a directory of the repo (commit the files themselves)',
          },
        ];
      } else if (tree instanceof Error) {
        errors = [
          {
            file: src.treeDir,
            line: 0,
            col: 0,
            path: '',
            message: `cannot read the spec tree: ${String(tree)}`,
          },
        ];
      } else if (tree.errors.length > 0) {
        errors = tree.errors;
      } else {
        // Parsed on worker threads (when built), so a hostile file never blocks the API or the agents.
        const result = await this.loader.loadAsync(tree.files, {
          id: src.sha,
          symlinks: tree.symlinks,
          limits: this.deps.limits,
          secrets: this.deps.secrets ?? { env: [] },
          alwaysThreaded: true,
        });
        if (result.ok) revision = result.revision;
        errors = result.ok ? [] : result.errors;
      }
    }
    const record: RevisionRecord = { ...base, status: revision ? 'accepted' : 'rejected', errors };
    await this.deps.store.putRevision(record);
    if (!revision) return { accepted: false, record };
    await this.deps.store.setAppliedRevision(src.sha);
    return { accepted: true, revision, record };
  }
}
