/**
 * Multi-document YAML parsing that keeps positions: every document's data, where it starts, and a way to
 * find the line:col of any field path in it (falling back to the nearest parent that exists).
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  visit,
  type YAMLError,
} from 'yaml';
import type { FieldPath } from './field-path.js';
import type { SourcePos, SpecError } from './types.js';
import { YamlDataError, yamlToData } from './yaml-to-data.js';

/** Whether a field's position is that of its key (`name:`) or of its value. */
export type PosAnchor = 'key' | 'value';

/** One non-empty, syntactically valid YAML document of a file: its data and where it starts. */
export interface PlainYamlDocument {
  file: string;
  /** 0-based index among the file's documents (empty ones included). */
  index: number;
  /** The document as plain data. */
  data: unknown;
  /** Where the document's content starts. */
  pos: SourcePos;
}

/** A document that can also place its fields (for error messages). */
export interface YamlDocument extends PlainYamlDocument {
  /** Where a field is; a missing field resolves to its nearest present parent (at the parent's key). */
  locate(path: FieldPath, anchor?: PosAnchor): SourcePos;
  /** The source text of the scalar at a path (e.g. `0644` for a mode that YAML read as 644). */
  sourceText(path: FieldPath): string | undefined;
}

/** The documents of one file, and its syntax errors. */
export interface ParsedYamlFile {
  docs: YamlDocument[];
  errors: SpecError[];
}

interface Located {
  node: Node | null;
  key: Node | null;
  complete: boolean;
}

function resolveNode(doc: Document, node: unknown): Node | null {
  if (isAlias(node)) return resolveNode(doc, node.resolve(doc) ?? null);
  return (node as Node | null) ?? null;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function walk(doc: Document, path: FieldPath): Located {
  let node = resolveNode(doc, doc.contents);
  let key: Node | null = null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return { node, key, complete: false };
      key = (pair.key as Node | null) ?? null;
      node = resolveNode(doc, pair.value);
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      key = null;
      node = resolveNode(doc, node.items[seg]);
    } else {
      return { node, key, complete: false };
    }
  }
  return { node, key, complete: true };
}

/**
 * The quoted scalar or flow collection a syntax error cut off, if any: `yaml` reports a missing closing quote,
 * `]` or `}` where it gave up (often the end of the file); the construct whose value ends right there starts
 * where the mistake is. The innermost one wins.
 */
function unclosedConstructAt(doc: Document, e: YAMLError): { offset: number; what: string } | undefined {
  if (e.code !== 'MISSING_CHAR' && e.code !== 'BAD_INDENT') return undefined;
  const at = e.pos[0];
  let found: { offset: number; what: string } | undefined;
  visit(doc, (_key, node) => {
    const range = (node as Node | null)?.range;
    if (!range || range[1] !== at) return;
    if (isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) {
      const quote = node.type === 'QUOTE_DOUBLE' ? 'a double-quoted string' : 'a single-quoted string';
      if (/quote/i.test(e.message)) found = { offset: range[0], what: quote };
    } else if ((isMap(node) || isSeq(node)) && node.flow) {
      const what = isMap(node) ? 'the flow mapping {' : 'the flow sequence [';
      if (!found || found.offset < range[0]) found = { offset: range[0], what };
    }
  });
  return found;
}

function isEmptyDocument(doc: Document): boolean {
  const c = doc.contents;
  if (c === null) return true;
  // A document of only comments parses as a zero-length null scalar.
  return isScalar(c) && c.value === null && (c.range?.[0] ?? 0) === (c.range?.[1] ?? 0);
}

/** Parses every document of a file; never throws. */
export function parseYamlFile(file: string, text: string): ParsedYamlFile {
  const lines = new LineCounter();
  const errors: SpecError[] = [];
  const docs: YamlDocument[] = [];
  const posAt = (offset: number): SourcePos => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  if ('empty' in parsed) {
    for (const e of [...parsed.errors, ...parsed.warnings]) {
      errors.push({ ...posAt(e.pos[0]), path: '', message: `YAML: ${e.message}` });
    }
  }
  parsed.forEach((doc, index) => {
    const problems = [...doc.errors, ...doc.warnings];
    for (const e of problems) {
      const opened = unclosedConstructAt(doc, e);
      errors.push(
        opened
          ? {
              ...posAt(opened.offset),
              path: '',
              message: `YAML: ${opened.what} opened here is never closed: ${e.message}`,
            }
          : { ...posAt(e.pos[0]), path: '', message: `YAML: ${e.message}` },
      );
    }
    if (problems.length > 0 || isEmptyDocument(doc)) return;
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const pos = posAt(start);
    let data: unknown;
    try {
      data = yamlToData(doc);
    } catch (err) {
      const at = err instanceof YamlDataError ? posAt(err.offset) : pos;
      errors.push({ ...at, path: '', message: `YAML: ${(err as Error).message}` });
      return;
    }
    docs.push({
      file,
      index,
      data,
      pos,
      locate(path, anchor = 'value') {
        const { node, key, complete } = walk(doc, path);
        // An empty value (`spec:` and nothing) has no text of its own: point at its key.
        const empty = isScalar(node) && node.range?.[0] === node.range?.[1];
        const useKey = key && (!complete || anchor === 'key' || !isScalar(node) || empty);
        const range = useKey ? key.range : (node?.range ?? key?.range);
        return range ? posAt(range[0]) : pos;
      },
      sourceText(path) {
        const { node, complete } = walk(doc, path);
        if (!complete || !isScalar(node) || !node.range) return undefined;
        return text.slice(node.range[0], node.range[1]);
      },
    });
  });
  return { docs, errors };
}
