/** Reads an inventory file (YAML or JSON): the hosts `gsectl plan` plans for when no controller is asked. */
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import type { Inventory } from '../protocol/manifest.js';

const INVENTORY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['hosts'],
  properties: {
    hosts: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          id: { type: 'string', minLength: 1 },
          name: { type: 'string', minLength: 1 },
          ips: { type: 'array', items: { type: 'string' } },
          cloudId: { type: 'integer', minimum: 0 },
          os: { type: 'string' },
          agentVersion: { type: 'string' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          facts: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(INVENTORY_SCHEMA);

export type InventoryResult = { ok: true; inventory: Inventory } | { ok: false; errors: string[] };

/** Parses and checks inventory text; `id` defaults to the name, `cloudId` to 0, `ips` and `labels` to empty. */
export function parseInventory(text: string, file: string): InventoryResult {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    return { ok: false, errors: [`${file}: ${(err as Error).message}`] };
  }
  if (!validate(raw)) {
    return {
      ok: false,
      errors: (validate.errors ?? []).map(
        (e) => `${file}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}`,
      ),
    };
  }
  const hosts = (raw as { hosts: Array<Record<string, unknown>> }).hosts.map((h) => ({
    id: (h.id as string | undefined) ?? (h.name as string),
    name: h.name as string,
    ips: (h.ips as string[] | undefined) ?? [],
    cloudId: (h.cloudId as number | undefined) ?? 0,
    os: h.os as string | undefined,
    agentVersion: h.agentVersion as string | undefined,
    labels: (h.labels as Record<string, string> | undefined) ?? {},
    facts: h.facts as Record<string, string | number | boolean> | undefined,
  }));
  return { ok: true, inventory: { hosts } };
}

/** Reads and parses an inventory file. */
export async function readInventory(path: string): Promise<InventoryResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return {
      ok: false,
      errors: [`${path}: cannot read inventory: ${(err as NodeJS.ErrnoException).code ?? err}`],
    };
  }
  return parseInventory(text, path);
}
