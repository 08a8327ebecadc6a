/** A problem found in one document, before it is placed at a file:line:col. */
import { type FieldPath, formatFieldPath } from './field-path.js';
import type { PosAnchor, YamlDocument } from './parse-yaml.js';
import type { SpecError } from './types.js';

/** What is wrong where, in document terms. */
export interface Issue {
  /** The field the message is about (printed before the message). */
  path: FieldPath;
  message: string;
  /** Point at the field's key or at its value (default value; missing fields point at their parent's key). */
  anchor?: PosAnchor;
  /** Where to point when that is not `path` itself (e.g. a missing `runner` is pointed at `on.event`). */
  at?: FieldPath;
}

/** Places an issue in its file. */
export function issueToSpecError(doc: YamlDocument, issue: Issue): SpecError {
  const pos = doc.locate(issue.at ?? issue.path, issue.anchor ?? 'value');
  return { ...pos, path: formatFieldPath(issue.path), message: issue.message };
}

/** Orders errors by file, line and column (stable for ties). */
export function sortSpecErrors(errors: SpecError[]): SpecError[] {
  return errors.sort((a, b) =>
    a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line !== b.line ? a.line - b.line : a.col - b.col,
  );
}
