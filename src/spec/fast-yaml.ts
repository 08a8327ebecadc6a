/**
 * The fast path of spec parsing: `js-yaml`'s event parser (about 4x faster than composing `yaml` documents
 * with source positions) and a small constructor of our own over its events, for the files that use only
 * the plain subset of YAML specs are written in. It gives each document's data and where it starts, not
 * the positions of its fields: a file with any error is parsed again by `parse-yaml.ts` (the one source of
 * error texts and positions), and so is a field a cross-reference error names (deferred-positions.ts).
 *
 * The data must be what `parse-yaml.ts` gives for the same text; where the two parsers could differ the
 * file is refused (undefined) and takes the `yaml` path: anchors, aliases, tags, directives, keys that
 * are not scalars or that repeat, root values that are not mappings, tabs, carriage returns and other
 * control characters, document end markers, and any syntax error. Plain scalars are resolved with the YAML 1.2 core schema
 * exactly as `yaml` resolves them (the same tests in the same order), not with js-yaml's own schema.
 */
import {
  EVENT_ALIAS,
  EVENT_DOCUMENT,
  EVENT_MAPPING,
  EVENT_POP,
  EVENT_SCALAR,
  EVENT_SEQUENCE,
  type Event,
  getScalarValue,
  parseEvents,
  SCALAR_STYLE_PLAIN,
  type ScalarEvent,
} from 'js-yaml';
import type { PlainYamlDocument } from './parse-yaml.js';
import type { SourcePos } from './types.js';

/**
 * Characters the fast path leaves to `yaml`: tabs (indentation rules), CR (line ends), a BOM, C0/C1
 * controls and DEL (which `yaml` may refuse), and the Unicode line and paragraph separators.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const UNSUPPORTED_CHARS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

/**
 * A document end marker (`...`) at the start of a line: `yaml` counts an empty document before a leading
 * one and js-yaml does not, which would shift document indexes; rare in specs, so left to `yaml`.
 */
const DOCUMENT_END_MARKER = /^\.\.\.(?:[ \n#]|$)/m;

/** `yaml` refuses implicit keys longer than this (KEY_OVER_1024_CHARS); such files take its path. */
const MAX_IMPLICIT_KEY_CHARS = 1024;

/** js-yaml's nesting limit (its default): deeper files take the `yaml` path, which has none. */
const MAX_DEPTH = 100;

// The YAML 1.2 core schema as `yaml` (2.x) tests plain scalars, in its order (schema/core/schema.js).
const CORE_NULL = /^(?:~|[Nn]ull|NULL)?$/;
const CORE_BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const CORE_INT_OCT = /^0o[0-7]+$/;
const CORE_INT = /^[-+]?[0-9]+$/;
const CORE_INT_HEX = /^0x[0-9a-fA-F]+$/;
const CORE_FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const CORE_FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const CORE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** First characters a non-string core scalar can start with (anything else is a string at once). */
const MAY_NOT_BE_STRING = new Set('~nNtTfF0123456789+-.');

/** A plain scalar's value under the core schema, as `yaml` resolves it. */
export function resolvePlainScalar(source: string): unknown {
  if (source === '') return null;
  if (!MAY_NOT_BE_STRING.has(source.charAt(0))) return source;
  if (CORE_NULL.test(source)) return null;
  if (CORE_BOOL.test(source)) return source[0] === 't' || source[0] === 'T';
  if (CORE_INT_OCT.test(source)) return Number.parseInt(source.substring(2), 8);
  if (CORE_INT.test(source)) return Number.parseInt(source, 10);
  if (CORE_INT_HEX.test(source)) return Number.parseInt(source.substring(2), 16);
  if (CORE_FLOAT_NAN.test(source)) {
    if (source.slice(-3).toLowerCase() === 'nan') return Number.NaN;
    return source[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (CORE_FLOAT_EXP.test(source) || CORE_FLOAT.test(source)) return Number.parseFloat(source);
  return source;
}

/** Thrown inside the constructor when the file needs the `yaml` path; never escapes this module. */
class NeedsFullParser extends Error {
  override readonly name = 'NeedsFullParser';
}

interface MapFrame {
  map: Record<string, unknown>;
  /** The key read and waiting for its value. */
  key: string | undefined;
}
type Frame = MapFrame | unknown[];

/** Line and column (1-based) of offsets taken in increasing order, counting `\n` as `yaml`'s LineCounter does. */
function forwardLineCounter(text: string): (offset: number) => { line: number; col: number } {
  let scanned = 0;
  let line = 1;
  let lineStart = 0;
  return (offset) => {
    for (let i = text.indexOf('\n', scanned); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    scanned = Math.max(scanned, offset);
    return { line, col: offset - lineStart + 1 };
  };
}

function scalarValue(text: string, e: ScalarEvent): unknown {
  const source = getScalarValue(text, e);
  return e.style === SCALAR_STYLE_PLAIN ? resolvePlainScalar(source) : source;
}

/** A mapping key from its scalar event: the resolved value as a string, as `yaml-to-data.ts` keys it. */
function keyOf(text: string, e: ScalarEvent): string {
  // An absent key (`: value`) is where the two parsers disagree most (compact values after it).
  if (e.valueStart === -1) throw new NeedsFullParser('absent key');
  if (e.valueEnd - e.valueStart > MAX_IMPLICIT_KEY_CHARS) throw new NeedsFullParser('long key');
  if (text.lastIndexOf('\n', e.valueEnd - 1) >= e.valueStart) throw new NeedsFullParser('multi-line key');
  return String(scalarValue(text, e) ?? '');
}

/**
 * Whether a plain scalar starts its line with only comment (or blank) lines between it and the content
 * before it. `yaml` reads such a scalar wrongly when the comment is indented less than it (an error, or
 * with a sequence item `-`, a different value); left to `yaml` so that the result stays its result.
 */
function followsCommentLine(text: string, start: number): boolean {
  let i = start - 1;
  while (i >= 0 && text.charCodeAt(i) === 0x20) i--;
  if (i < 0 || text.charCodeAt(i) !== 0x0a) return false;
  for (let end = i; end > 0; ) {
    const lineStart = text.lastIndexOf('\n', end - 1) + 1;
    const line = text.slice(lineStart, end).trim();
    if (line.startsWith('#')) return true;
    if (line !== '') return false;
    end = lineStart - 1;
  }
  return false;
}

function addValue(frame: Frame, value: unknown): void {
  if (Array.isArray(frame)) {
    frame.push(value);
    return;
  }
  const key = frame.key;
  if (key === undefined) throw new NeedsFullParser('collection as a key');
  frame.key = undefined;
  if (key === '__proto__')
    Object.defineProperty(frame.map, key, { value, writable: true, enumerable: true, configurable: true });
  else frame.map[key] = value;
}

function addKey(frame: MapFrame, key: string): void {
  // `yaml` compares keys by value (1 and "1" differ, 1 and 01 do not); both collapse here, so leave it.
  if (Object.hasOwn(frame.map, key)) throw new NeedsFullParser('repeated key');
  frame.key = key;
}

function hasProperties(e: { anchorStart: number; tagStart: number }): boolean {
  return e.anchorStart !== -1 || e.tagStart !== -1;
}

/** Builds the documents from the event stream; throws NeedsFullParser on anything outside the subset. */
function construct(file: string, text: string, events: Event[]): PlainYamlDocument[] {
  const docs: PlainYamlDocument[] = [];
  const posAt = forwardLineCounter(text);
  const stack: Frame[] = [];
  let index = -1;
  let root: Record<string, unknown> | undefined;
  let pos: SourcePos | undefined;
  for (const e of events) {
    const top = stack[stack.length - 1];
    switch (e.type) {
      case EVENT_DOCUMENT:
        if (e.directives.length > 0) throw new NeedsFullParser('directive');
        index++;
        root = undefined;
        pos = undefined;
        break;
      case EVENT_MAPPING: {
        if (hasProperties(e) || stack.length >= MAX_DEPTH) throw new NeedsFullParser('mapping');
        const map: Record<string, unknown> = {};
        if (top === undefined) {
          root = map;
          pos = { file, ...posAt(e.start) };
        } else addValue(top, map);
        stack.push({ map, key: undefined });
        break;
      }
      case EVENT_SEQUENCE: {
        if (top === undefined || hasProperties(e) || stack.length >= MAX_DEPTH)
          throw new NeedsFullParser('sequence');
        const list: unknown[] = [];
        addValue(top, list);
        stack.push(list);
        break;
      }
      case EVENT_SCALAR:
        if (hasProperties(e)) throw new NeedsFullParser('scalar properties');
        if (top === undefined) {
          // Only an empty document (no content at all) may have a scalar root; `yaml` skips those too.
          if (e.valueStart !== -1) throw new NeedsFullParser('scalar document');
        } else if (!Array.isArray(top) && top.key === undefined) addKey(top, keyOf(text, e));
        else {
          if (e.style === SCALAR_STYLE_PLAIN && e.valueStart !== -1 && followsCommentLine(text, e.valueStart))
            throw new NeedsFullParser('plain scalar after a comment line');
          addValue(top, scalarValue(text, e));
        }
        break;
      case EVENT_POP:
        if (top !== undefined) {
          if (!Array.isArray(top) && top.key !== undefined) throw new NeedsFullParser('key without value');
          stack.pop();
        } else if (root !== undefined && pos !== undefined) {
          docs.push({ file, index, data: root, pos });
          root = undefined;
        }
        break;
      case EVENT_ALIAS:
        throw new NeedsFullParser('alias');
    }
  }
  if (stack.length > 0 || index < 0) throw new NeedsFullParser('unbalanced events');
  return docs;
}

/**
 * Every document of a file as data with its start, or undefined when the file must be parsed by
 * `parse-yaml.ts` (a construct outside the fast path's subset, or any syntax error); never throws.
 */
export function parseYamlFast(file: string, text: string): PlainYamlDocument[] | undefined {
  if (UNSUPPORTED_CHARS.test(text) || DOCUMENT_END_MARKER.test(text)) return undefined;
  try {
    return construct(file, text, parseEvents(text, { maxDepth: MAX_DEPTH }));
  } catch {
    // A js-yaml syntax error or NeedsFullParser alike: `yaml` gives the exact message, or the data.
    return undefined;
  }
}
