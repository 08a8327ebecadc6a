/** The SQL every SQLite listing and retention shares: keyset pages over a table's sort columns. */
import type { Statement } from 'better-sqlite3';
import { InvalidCursorError } from './errors.js';
import { decodeCursor, pageLimit, toPage } from './paging.js';
import { retentionCutoffMs } from './shared.js';
import { fromRow, rowPosition, type SqlValue, type TableSpec } from './sqlite-tables.js';
import type { Page, PageOptions, RetentionRule } from './types.js';

/** Returns the cached prepared statement for `sql`. */
export type Prepare = (sql: string) => Statement;

/** `col = ?` conditions for the defined filters, with their parameters. */
export function equalities(filters: Record<string, SqlValue | undefined>): [string[], SqlValue[]] {
  const where: string[] = [];
  const params: SqlValue[] = [];
  for (const [col, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    where.push(`${col} = ?`);
    params.push(value);
  }
  return [where, params];
}

function cursorNumber(listing: string, part: string): number {
  const n = Number(part);
  if (!Number.isSafeInteger(n)) throw new InvalidCursorError(listing);
  return n;
}

/** One page of `spec`'s rows matching `where`, after the cursor's position (keyset pagination). */
export function listPage<T extends object>(
  prepare: Prepare,
  spec: TableSpec<T>,
  where: string[],
  params: SqlValue[],
  options: PageOptions,
): Page<T> {
  const limit = pageLimit(options.limit);
  const conds = [...where];
  const args = [...params];
  if (options.cursor !== undefined) {
    const position = decodeCursor(spec.table, options.cursor, spec.order.length);
    args.push(...position.map((part, i) => (spec.order[i]?.numeric ? cursorNumber(spec.table, part) : part)));
    const cols = spec.order.map((o) => o.col).join(', ');
    conds.push(`(${cols}) ${spec.descending ? '<' : '>'} (${spec.order.map(() => '?').join(', ')})`);
  }
  const dir = spec.descending ? 'DESC' : 'ASC';
  const sql =
    `SELECT * FROM ${spec.table}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ` +
    `ORDER BY ${spec.order.map((o) => `${o.col} ${dir}`).join(', ')} LIMIT ?`;
  const rows: unknown[] = prepare(sql).all(...args, limit + 1);
  return toPage(
    rows,
    limit,
    spec.table,
    (row) => rowPosition(spec, row),
    (row) => fromRow(spec, row),
  );
}

/** Deletes `spec`'s rows beyond `rule` (age first, then count, newest kept); how many it deleted. */
export function retainRows<T extends object>(
  prepare: Prepare,
  spec: TableSpec<T>,
  rule: RetentionRule | undefined,
  now: Date,
): number {
  const [time] = spec.order;
  if (!rule || !time) return 0;
  let deleted = 0;
  const cutoff = retentionCutoffMs(rule, now);
  if (cutoff !== undefined) {
    deleted += prepare(`DELETE FROM ${spec.table} WHERE ${time.col} < ?`).run(cutoff).changes;
  }
  if (rule.maxCount !== undefined) {
    const cols = spec.order.map((o) => o.col).join(', ');
    // The newest row beyond maxCount: it and everything older go. (raw() sticks to this cached statement.)
    const boundary: unknown = prepare(
      `SELECT ${cols} FROM ${spec.table} ORDER BY ${spec.order.map((o) => `${o.col} DESC`).join(', ')} ` +
        'LIMIT 1 OFFSET ?',
    )
      .raw()
      .get(rule.maxCount);
    if (Array.isArray(boundary)) {
      const marks = spec.order.map(() => '?').join(', ');
      deleted += prepare(`DELETE FROM ${spec.table} WHERE (${cols}) <= (${marks})`).run(...boundary).changes;
    }
  }
  return deleted;
}
