/**
 * One YAML document -> a typed resource, or its errors: literal secrets, apiVersion/kind, the kind's JSON
 * Schema, normalisation, then the checks a schema cannot express.
 */
import { resourceIssues } from './check-doc.js';
import { didYouMean } from './did-you-mean.js';
import { type FieldPath, formatFieldPath, isRecord } from './field-path.js';
import { type Issue, issueToSpecError } from './issue.js';
import { normalizeResource, type RawDocument } from './normalize.js';
import type { PlainYamlDocument, YamlDocument } from './parse-yaml.js';
import { schemaIssues } from './schema-errors.js';
import { validateAgainstSchema } from './schemas.js';
import { secretRefsIn } from './secret-refs.js';
import { literalSecretIssues } from './secrets.js';
import { API_VERSION, KINDS, type Kind, type Resource, type SourcePos, type SpecError } from './types.js';

/**
 * A document after validation, as plain data (it crosses worker threads and stays in the loader's cache
 * without the YAML tree): its identity when it has one, its resource when valid, and the positions the
 * cross-reference pass reports at.
 */
export interface ValidatedDoc {
  /** Where the document starts. */
  pos: SourcePos;
  /** 0-based index among its file's documents. */
  index: number;
  kind?: Kind;
  /** `metadata.name` when it is a string, even if the document is otherwise invalid. */
  name?: string;
  resource?: Resource;
  errors: SpecError[];
  /** Positions of the fields cross-references point at, by printed path (`spec.targets[0].name`). */
  refs: Record<string, SourcePos>;
  /**
   * True when the document came from the fast parser (fast-yaml.ts): `refs` is empty and the positions
   * are found on demand by parsing the file again (deferred-positions.ts).
   */
  positionsDeferred?: true;
}

/** The fields of a valid resource that cross-references can point at (besides `metadata.name`). */
function refPaths(resource: Resource): FieldPath[] {
  const paths: FieldPath[] = [];
  if (resource.kind === 'Route') {
    resource.spec.targets.forEach((t, i) => {
      paths.push(['spec', 'targets', i, 'name']);
      if (t.key !== undefined) paths.push(['spec', 'targets', i, 'key']);
      if (t.topic !== undefined) paths.push(['spec', 'targets', i, 'topic']);
    });
  }
  if (resource.kind === 'ConfigFile' && resource.spec.source !== undefined) paths.push(['spec', 'source']);
  if (resource.kind === 'ConfigFile' && resource.spec.content !== undefined) paths.push(['spec', 'content']);
  if (resource.kind === 'ProcessOverride') paths.push(['spec', 'watch']);
  // Secret references are checked against the controller's allow-list on every load (policy-checks.ts).
  for (const { path } of secretRefsIn(resource.spec, ['spec'])) paths.push(path);
  return paths;
}

function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}

function headerIssues(data: Record<string, unknown>): Issue[] {
  const { apiVersion, kind } = data;
  if (apiVersion === undefined && kind === undefined) {
    return [
      {
        path: [],
        message: `document has no apiVersion and kind; every document starts with apiVersion: ${API_VERSION} and a kind`,
      },
    ];
  }
  const issues: Issue[] = [];
  // With a known kind, the kind's schema reports a missing or wrong apiVersion.
  if (apiVersion === undefined && !isKind(kind))
    issues.push({ path: ['apiVersion'], message: `missing required field "apiVersion" (${API_VERSION})` });
  if (kind === undefined)
    issues.push({ path: ['kind'], message: `missing required field "kind" (one of ${KINDS.join(', ')})` });
  else if (!isKind(kind)) {
    const hint = typeof kind === 'string' ? didYouMean(kind, KINDS) : '';
    issues.push({
      path: ['kind'],
      message: `unknown kind ${JSON.stringify(kind)}${hint || ` (one of ${KINDS.join(', ')})`}`,
    });
    if (apiVersion !== undefined && apiVersion !== API_VERSION) {
      issues.push({
        path: ['apiVersion'],
        message: `must be "${API_VERSION}", not ${JSON.stringify(apiVersion)}`,
      });
    }
  }
  return issues;
}

/**
 * Validates and normalises one document; never throws on user input. A document that cannot place its
 * fields (a PlainYamlDocument) gets no `refs` (`positionsDeferred`), and its errors are all placed at the
 * document's start: the caller parses such a file again with positions when it has errors (load-file.ts).
 */
export function validateDocument(doc: YamlDocument | PlainYamlDocument): ValidatedDoc {
  const { data } = doc;
  const located = 'locate' in doc ? doc : undefined;
  const out: ValidatedDoc = { pos: doc.pos, index: doc.index, errors: [], refs: {} };
  if (!located) out.positionsDeferred = true;
  const fail = (issues: Issue[]): ValidatedDoc => {
    for (const i of issues)
      out.errors.push(
        located
          ? issueToSpecError(located, i)
          : { ...doc.pos, path: formatFieldPath(i.path), message: i.message },
      );
    return out;
  };
  if (!isRecord(data)) {
    return fail([
      { path: [], message: 'a document must be a mapping with apiVersion, kind, metadata and spec' },
    ]);
  }
  if (isKind(data.kind)) out.kind = data.kind;
  const name = isRecord(data.metadata) ? data.metadata.name : undefined;
  if (typeof name === 'string') {
    out.name = name;
    if (located) out.refs['metadata.name'] = located.locate(['metadata', 'name']);
  }

  const issues = [...literalSecretIssues(data), ...headerIssues(data)];
  if (out.kind === undefined) return fail(issues);
  issues.push(...schemaIssues(validateAgainstSchema(out.kind, data), data, (p) => located?.sourceText(p)));
  if (issues.length > 0) return fail(issues);

  const resource = normalizeResource(data as unknown as RawDocument, doc.pos);
  const semantic = resourceIssues(resource);
  if (semantic.length > 0) return fail(semantic);
  out.resource = resource;
  if (located) for (const path of refPaths(resource)) out.refs[formatFieldPath(path)] = located.locate(path);
  return out;
}
