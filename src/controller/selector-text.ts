/**
 * The one text syntax of host selectors (`gsectl exec --hosts`, `gsectl get hosts -l/--hosts`, the API's
 * `hosts`/`labels` parameters). Kubernetes label-selector semantics: terms joined by commas must ALL hold.
 *   role=web  role==web     label role is web          role!=web          label role is not web (or absent)
 *   role in (web,db)        label role is web or db    role notin (web,db) not web nor db (or absent)
 *   canary                  label canary is present    !canary            label canary is absent
 *   name=web-*  web-*       host name glob             name in (web-*,db-1)  any of these globs
 *   cidr=10.0.0.0/8         an IP in the CIDR          cidr in (A,B)      an IP in any of them
 *   cloud=0                 cloud area id              cloud in (0,2)     any of them
 *   *                       every host
 * The result is a spec `Selector`, matched by `selectorMatches` like any selector in Git, so one string
 * and its YAML twin pick the same hosts. `name`, `cidr` and `cloud` take only `=` and `in` and appear once
 * per selector (a spec Selector has one any-of list each); labels with those keys are selected in specs.
 */
import { cidrProblem, globProblem } from '../spec/selector-checks.js';
import type { MatchExpression, Selector } from '../spec/types.js';

export type SelectorParse = { ok: true; selector: Selector } | { ok: false; error: string };

type Operator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists';

/** One parsed term, before it becomes part of a Selector. */
interface Term {
  key: string;
  op: Operator;
  values: string[];
  /** The term as written, and its 1-based column, for messages. */
  text: string;
  column: number;
}

const HOST_FIELDS = new Set(['name', 'cidr', 'cloud']);
const GLOB_CHARS = /[*?[]/;
/** Kubernetes-style label key: optional DNS prefix and "/", then a name (as specs/common.schema.json). */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const EXAMPLE = 'e.g. role=web, role in (web,db), !canary, name=web-*, or * for every host';

class SelectorSyntaxError extends Error {}

/** Reads terms left to right; every error names the term, its column and the fix. */
class Scanner {
  i = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.i >= this.text.length;
  }

  peek(): string {
    return this.text[this.i] ?? '';
  }

  skipSpaces(): void {
    while (/\s/.test(this.peek())) this.i++;
  }

  /** A word: anything up to whitespace, `,`, `=`, `!=`, `(` or `)`; a glob's `[...]` is read whole. */
  word(): string {
    const start = this.i;
    while (!this.done) {
      const c = this.peek();
      if (/[\s,=()]/.test(c) || (c === '!' && this.text[this.i + 1] === '=')) break;
      if (c === '[') {
        const end = this.text.indexOf(']', this.i + 1);
        this.i = end === -1 ? this.text.length : end + 1;
        continue;
      }
      if (c === '!' && this.i === start) break;
      this.i++;
    }
    return this.text.slice(start, this.i);
  }

  fail(message: string): never {
    throw new SelectorSyntaxError(message);
  }

  /** The text of the term that starts at `start`, up to the next top-level comma. */
  termText(start: number): string {
    let depth = 0;
    let j = start;
    for (; j < this.text.length; j++) {
      const c = this.text[j];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === ',' && depth <= 0) break;
    }
    return this.text.slice(start, j).trim();
  }
}

/** Parses one term at the scanner's position (leading spaces skipped). */
function parseTerm(s: Scanner): Term {
  const start = s.i;
  const column = start + 1;
  const text = () => s.termText(start);
  const at = (i: number) => `at column ${i + 1}`;
  if (s.peek() === ',' || s.done)
    s.fail(`empty term ${at(start)} in '${s.text}'; remove the extra comma (terms are joined by one comma)`);
  if (s.peek() === '!') {
    s.i++;
    const key = s.word();
    if (!key) s.fail(`'!' ${at(start)} needs a label key: write !canary (hosts without the label canary)`);
    s.skipSpaces();
    if (s.peek() === '=' || s.peek() === '!')
      s.fail(`'${text()}' ${at(start)}: '!' takes a key alone; to exclude a value write ${key}!=VALUE`);
    return { key, op: '!exists', values: [], text: text(), column };
  }
  const key = s.word();
  if (!key) s.fail(`'${text()}' ${at(start)} has no key; write key=value, e.g. role=web`);
  s.skipSpaces();
  const c = s.peek();
  if (s.done || c === ',') return { key, op: 'exists', values: [], text: text(), column };
  if (c === '=' || (c === '!' && s.text[s.i + 1] === '=')) {
    const op = c === '=' ? '=' : '!=';
    s.i += op === '!=' || s.text[s.i + 1] === '=' ? 2 : 1;
    s.skipSpaces();
    const valueAt = s.i;
    const value = s.word();
    if (!value)
      s.fail(
        `'${text()}' ${at(valueAt)} has no value; write ${key}${op}VALUE, or ${key} alone for hosts that have the label`,
      );
    return { key, op, values: [value], text: text(), column };
  }
  const opAt = s.i;
  const word = s.word();
  if (word !== 'in' && word !== 'notin')
    s.fail(
      `'${text()}' ${at(opAt)}: expected =, !=, in (...), notin (...) or a comma after '${key}', got '${word || s.peek()}'`,
    );
  s.skipSpaces();
  const open = s.i;
  if (s.peek() !== '(')
    s.fail(`'${text()}' ${at(open)}: ${word} takes a set in parentheses: ${key} ${word} (a,b)`);
  s.i++;
  const values: string[] = [];
  for (;;) {
    s.skipSpaces();
    if (s.done)
      s.fail(`unclosed ( in '${text()}' ${at(open)}; close the set: ${key} ${word} (${values.join(',')})`);
    const valueAt = s.i;
    const value = s.word();
    if (!value) {
      if (s.peek() === ')' && values.length === 0)
        s.fail(`'${text()}' ${at(open)}: the set is empty; list at least one value: ${key} ${word} (a,b)`);
      s.fail(`'${text()}' ${at(valueAt)}: expected a value in the set, got '${s.peek()}'`);
    }
    values.push(value);
    s.skipSpaces();
    if (s.peek() === ',') {
      s.i++;
      continue;
    }
    if (s.peek() === ')') {
      s.i++;
      break;
    }
    if (s.done)
      s.fail(`unclosed ( in '${text()}' ${at(open)}; close the set: ${key} ${word} (${values.join(',')})`);
    s.fail(`'${text()}' ${at(s.i)}: expected , or ) in the set, got '${s.peek()}'`);
  }
  return { key, op: word, values, text: text(), column };
}

/** Every term of the text, in order; throws SelectorSyntaxError. */
function parseTerms(text: string): Term[] {
  const s = new Scanner(text);
  const terms: Term[] = [];
  s.skipSpaces();
  if (s.done) s.fail(`empty selector: give ${EXAMPLE}`);
  for (;;) {
    s.skipSpaces();
    terms.push(parseTerm(s));
    s.skipSpaces();
    if (s.done) return terms;
    if (s.peek() !== ',') {
      const last = terms[terms.length - 1] as Term;
      s.fail(
        `'${last.text}' at column ${last.column}: unexpected '${s.peek()}' at column ${s.i + 1}; join terms with a comma`,
      );
    }
    s.i++;
  }
}

/** Adds a host-field term (`name`, `cidr`, `cloud`) to the selector. */
function addHostField(selector: Selector, t: Term, seen: Map<string, Term>): void {
  const where = `'${t.text}' at column ${t.column}`;
  if (t.op !== '=' && t.op !== 'in')
    throw new SelectorSyntaxError(
      `${where}: ${t.key} takes = or in (...) only; select the other hosts by label (see docs/ARCHITECTURE.md, Host selectors)`,
    );
  const before = seen.get(t.key);
  if (before)
    throw new SelectorSyntaxError(
      `${where}: ${t.key} is already given by '${before.text}'; for any of several write one term: ${t.key} in (${[...before.values, ...t.values].join(',')})`,
    );
  seen.set(t.key, t);
  if (t.key === 'name') {
    for (const g of t.values) {
      const problem = globProblem(g);
      if (problem) throw new SelectorSyntaxError(`${where}: invalid glob '${g}': ${problem}`);
    }
    selector.names = t.values;
  } else if (t.key === 'cidr') {
    for (const c of t.values) {
      const problem = cidrProblem(c);
      if (problem) throw new SelectorSyntaxError(`${where}: invalid CIDR '${c}': ${problem}`);
    }
    selector.cidrs = t.values;
  } else {
    const bad = t.values.find((v) => !/^\d+$/.test(v));
    if (bad !== undefined)
      throw new SelectorSyntaxError(`${where}: cloud takes a number (a cloud area id), got '${bad}'`);
    selector.cloudIds = t.values.map(Number);
  }
}

const LABEL_OPERATOR: Record<Operator, MatchExpression['operator']> = {
  '=': 'In',
  in: 'In',
  '!=': 'NotIn',
  notin: 'NotIn',
  exists: 'Exists',
  '!exists': 'DoesNotExist',
};

/** Parses the selector text into a Selector; `*` alone selects every host. Pure. */
export function parseSelectorText(text: string): SelectorParse {
  try {
    const selector: Selector = {};
    const labels: Record<string, string> = {};
    const exprs: MatchExpression[] = [];
    const seen = new Map<string, Term>();
    for (const t of parseTerms(text)) {
      // A bare word with glob characters is a host-name glob, as `name=...`.
      const bareGlob = t.op === 'exists' && GLOB_CHARS.test(t.key);
      if (bareGlob) addHostField(selector, { ...t, key: 'name', op: '=', values: [t.key] }, seen);
      else if (HOST_FIELDS.has(t.key) && t.op !== 'exists' && t.op !== '!exists')
        addHostField(selector, t, seen);
      else {
        if (!LABEL_KEY.test(t.key))
          throw new SelectorSyntaxError(
            `'${t.text}' at column ${t.column}: '${t.key}' is not a label key (letters, digits, "-", "_" and ".", with an optional DNS prefix and "/"); for a host-name glob use name=${t.key}`,
          );
        // key=value reads as matchLabels, as in YAML; a key given twice goes on as an expression (AND).
        if (t.op === '=' && !Object.hasOwn(labels, t.key)) {
          labels[t.key] = t.values[0] as string;
          continue;
        }
        const operator = LABEL_OPERATOR[t.op];
        exprs.push(
          operator === 'In' || operator === 'NotIn'
            ? { key: t.key, operator, values: t.values }
            : { key: t.key, operator },
        );
      }
    }
    if (Object.keys(labels).length > 0) selector.matchLabels = labels;
    if (exprs.length > 0) selector.matchExpressions = exprs;
    return { ok: true, selector };
  } catch (err) {
    if (err instanceof SelectorSyntaxError) return { ok: false, error: err.message };
    throw err;
  }
}
