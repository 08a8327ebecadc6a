/**
 * Positions of the fields cross-document errors name. Documents from the fast parser (fast-yaml.ts) keep
 * none; the first error about one parses its file again with positions (once per file and load), so a
 * valid tree never pays for positions and an invalid one gets the same file:line:col as ever.
 */
import { loadSpecFileWithPositions } from './load-file.js';
import type { SourcePos } from './types.js';
import type { ValidatedDoc } from './validate-doc.js';

/** Where the field at a printed path (`spec.targets[0].name`) of a document is. */
export type PlaceField = (doc: ValidatedDoc, printedPath: string) => SourcePos;

/** The position recorded at validation, or the document's start for a field without one. */
export const recordedPosition: PlaceField = (doc, printedPath) => doc.refs[printedPath] ?? doc.pos;

/**
 * `recordedPosition`, parsing the file of a document with deferred positions again (from `tree`, the
 * content its result was made from) to find them.
 */
export function createFieldPlacer(tree: ReadonlyMap<string, Buffer>): PlaceField {
  const reparsed = new Map<string, ValidatedDoc[]>();
  return (doc, printedPath) => {
    if (!doc.positionsDeferred) return recordedPosition(doc, printedPath);
    const file = doc.pos.file;
    let docs = reparsed.get(file);
    if (docs === undefined) {
      const bytes = tree.get(file);
      docs = bytes === undefined ? [] : loadSpecFileWithPositions(file, bytes.toString('utf8'), '').docs;
      reparsed.set(file, docs);
    }
    const { index, pos } = doc;
    const placed = docs.find((d) => d.index === index && d.pos.line === pos.line && d.pos.col === pos.col);
    return placed ? recordedPosition(placed, printedPath) : doc.pos;
  };
}
