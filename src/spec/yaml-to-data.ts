/**
 * A composed YAML document -> plain data, faster than `Document.toJS()` for our needs: mappings become
 * plain objects (keys as strings), aliases are followed with a budget, and alias cycles are refused.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Node } from 'yaml';
import { MAX_YAML_ALIAS_NODES, MAX_YAML_ALIASES } from './limits.js';

/** The document cannot be turned into data (alias cycle, too many aliases). */
export class YamlDataError extends Error {
  override readonly name = 'YamlDataError';
  constructor(
    message: string,
    /** Offset in the source where the problem is. */
    readonly offset: number,
  ) {
    super(message);
  }
}

function keyString(key: unknown, convert: (n: unknown) => unknown): string {
  if (isScalar(key)) return String(key.value ?? '');
  if (key === null || key === undefined) return '';
  return JSON.stringify(convert(key));
}

/** Converts the document's contents to plain data; throws YamlDataError on alias cycles or too many aliases. */
export function yamlToData(doc: Document): unknown {
  let expansions = 0;
  // Nodes produced while inside an alias: a few aliases of a large anchor are as bad as many small ones.
  let aliasDepth = 0;
  let aliasNodes = 0;
  let aliasOffset = 0;
  const active = new Set<Node>();
  const convert = (node: unknown): unknown => {
    if (aliasDepth > 0 && ++aliasNodes > MAX_YAML_ALIAS_NODES)
      throw new YamlDataError(
        `aliases expand to more than ${MAX_YAML_ALIAS_NODES} nodes in this document; write the repeated part out or use fewer aliases`,
        aliasOffset,
      );
    if (isScalar(node)) return node.value;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      const offset = node.range?.[0] ?? 0;
      if (!target) throw new YamlDataError(`unresolved alias *${node.source}`, offset);
      if (active.has(target))
        throw new YamlDataError(`alias *${node.source} refers to a node that contains it`, offset);
      if (++expansions > MAX_YAML_ALIASES)
        throw new YamlDataError(
          `too many alias expansions: more than ${MAX_YAML_ALIASES} aliases in this document; write the repeated part out or use fewer aliases`,
          offset,
        );
      if (aliasDepth === 0) aliasOffset = offset;
      aliasDepth++;
      try {
        return convert(target);
      } finally {
        aliasDepth--;
      }
    }
    if (isMap(node)) {
      active.add(node);
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = keyString(pair.key, convert);
        const value = convert(pair.value);
        if (key === '__proto__')
          Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
        else out[key] = value;
      }
      active.delete(node);
      return out;
    }
    if (isSeq(node)) {
      active.add(node);
      const out = node.items.map(convert);
      active.delete(node);
      return out;
    }
    return null;
  };
  return convert(doc.contents);
}
