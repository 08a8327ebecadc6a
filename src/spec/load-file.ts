/** One spec file -> its validated documents and errors (plain data, cacheable and sendable between threads). */
import { parseYamlFile } from './parse-yaml.js';
import type { SpecError } from './types.js';
import { type ValidatedDoc, validateDocument } from './validate-doc.js';

/** What one spec file yields, keyed in caches by the SHA-256 of its content. */
export interface FileResult {
  hash: string;
  docs: ValidatedDoc[];
  /** Syntax errors and every document's errors. */
  errors: SpecError[];
}

/** Parses and validates every document of one file; never throws on user input. */
export function loadSpecFile(path: string, content: Uint8Array, hash: string): FileResult {
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8');
  const parsed = parseYamlFile(path, text);
  const docs = parsed.docs.map((doc) => {
    try {
      return validateDocument(doc);
    } catch (err) {
      // A bug must not take the controller down with it: the document is reported, not thrown.
      const message = `internal error while validating this document: ${(err as Error).message}`;
      return { pos: doc.pos, errors: [{ ...doc.pos, path: '', message }], refs: {} } satisfies ValidatedDoc;
    }
  });
  return { hash, docs, errors: [...parsed.errors, ...docs.flatMap((d) => d.errors)] };
}
