/**
 * Query parameters read strictly: a bad value is a 400 that names the parameter and what it accepts,
 * never something the store has to trip over.
 */
import { MAX_PAGE_LIMIT } from '../store/paging.js';
import { SYNC_STATES, type SyncState } from '../store/types.js';
import { badRequest } from './http-error.js';
import type { RequestContext } from './router.js';

/** An ISO 8601 date or date-time (`2024-05-01`, `2024-05-01T10:00:00Z`, `...+08:00`). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** A query parameter, or undefined when absent. */
export function optional(ctx: RequestContext, name: string): string | undefined {
  return ctx.query.get(name) ?? undefined;
}

/**
 * `limit` and `cursor`. A limit must be a whole number from 1; above MAX_PAGE_LIMIT (1000) it is capped
 * to 1000 (the page then carries a nextCursor), as the store does, so scripts asking for "everything" work.
 */
export function page(ctx: RequestContext): { limit?: number; cursor?: string } {
  const limit = ctx.query.get('limit');
  if (limit !== null && (!/^\d{1,15}$/.test(limit) || Number(limit) < 1))
    throw badRequest(
      `limit: "${limit}" is not a whole number from 1 (at most ${MAX_PAGE_LIMIT} are returned)`,
    );
  const cursor = ctx.query.get('cursor');
  if (cursor === '')
    throw badRequest('cursor: empty; pass the nextCursor of the previous page, or leave it out');
  return {
    limit: limit === null ? undefined : Math.min(Number(limit), MAX_PAGE_LIMIT),
    cursor: cursor ?? undefined,
  };
}

/** An ISO 8601 time parameter (`since`), checked for shape and for being a real date. */
export function timeParam(ctx: RequestContext, name: string): string | undefined {
  const v = optional(ctx, name);
  if (v === undefined) return undefined;
  if (!ISO_TIME.test(v) || Number.isNaN(Date.parse(v)))
    throw badRequest(`${name}: "${v}" is not an ISO 8601 time, e.g. 2024-05-01T10:00:00Z`);
  return v;
}

/** `true` or `false`, or undefined when absent. */
export function boolParam(ctx: RequestContext, name: string): boolean | undefined {
  const v = optional(ctx, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw badRequest(`${name}: "${v}" is not true or false`);
  return v === 'true';
}

/** A sync state parameter. */
export function syncStateParam(ctx: RequestContext, name: string): SyncState | undefined {
  const v = optional(ctx, name);
  if (v !== undefined && !(SYNC_STATES as readonly string[]).includes(v)) {
    throw badRequest(`${name}: "${v}" is not one of ${SYNC_STATES.join(', ')}`);
  }
  return v as SyncState | undefined;
}
