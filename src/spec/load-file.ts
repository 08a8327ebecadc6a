/** One spec file -> its validated documents and errors (plain data, cacheable and sendable between threads). */
import { parseYamlFast } from './fast-yaml.js';
import { type PlainYamlDocument, parseYamlFile } from './parse-yaml.js';
import type { SpecError } from './types.js';
import { type ValidatedDoc, validateDocument } from './validate-doc.js';

/** What one spec file yields, keyed in caches by the SHA-256 of its content. */
export interface FileResult {
  hash: string;
  docs: ValidatedDoc[];
  /** Syntax errors and every document's errors. */
  errors: SpecError[];
}

function validateSafely(doc: PlainYamlDocument): ValidatedDoc {
  try {
    return validateDocument(doc);
  } catch (err) {
    // A bug must not take the controller down with it: the document is reported, not thrown.
    const message = `internal error while validating this document: ${(err as Error).message}`;
    return { pos: doc.pos, index: doc.index, errors: [{ ...doc.pos, path: '', message }], refs: {} };
  }
}

/**
 * Parses and validates every document of one file; never throws on user input. The common case (a file
 * of valid documents) takes the fast parser and keeps no field positions; a file the fast parser leaves
 * alone, or with any error, is parsed with positions so that every error names its line and column.
 */
export function loadSpecFile(path: string, content: Uint8Array, hash: string): FileResult {
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8');
  const fast = parseYamlFast(path, text);
  if (fast) {
    const docs = fast.map(validateSafely);
    if (docs.every((d) => d.errors.length === 0)) return { hash, docs, errors: [] };
  }
  return loadSpecFileWithPositions(path, text, hash);
}

/** `loadSpecFile` with `yaml` only: every document placed, every error at its line and column. */
export function loadSpecFileWithPositions(path: string, text: string, hash: string): FileResult {
  const parsed = parseYamlFile(path, text);
  const docs = parsed.docs.map(validateSafely);
  return { hash, docs, errors: [...parsed.errors, ...docs.flatMap((d) => d.errors)] };
}
