/** The hosts a selector picks, read page by page through a host listing (store order: by host id). */
import type { Selector } from '../spec/types.js';
import { encodeCursor, MAX_PAGE_LIMIT, pageLimit } from '../store/paging.js';
import type { HostQuery, HostRecord, Page } from '../store/types.js';
import { type SelectableHost, selectorMatches } from './select.js';

/** A stored host as selectors see it: its effective labels (Git's HostGroups and its own). */
export function selectableRecord(h: HostRecord): SelectableHost {
  return { name: h.name, ips: h.ips, cloudId: h.cloudId, labels: h.labels };
}

/**
 * One page (`query.limit`, default 100) of the hosts `selector` picks, after `query.cursor`. The cursor
 * is the store's own host cursor (every store lists hosts by id), so pages chain across calls.
 */
export async function listSelectedHosts(
  list: (q: HostQuery) => Promise<Page<HostRecord>>,
  query: HostQuery,
  selector: Selector,
): Promise<Page<HostRecord>> {
  const limit = pageLimit(query.limit);
  const items: HostRecord[] = [];
  let cursor = query.cursor;
  do {
    const page = await list({ ...query, limit: MAX_PAGE_LIMIT, cursor });
    for (const h of page.items) {
      if (!selectorMatches(selector, selectableRecord(h))) continue;
      if (items.length === limit)
        return { items, nextCursor: hostCursorAfter(items[limit - 1] as HostRecord) };
      items.push(h);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return { items };
}

/** The cursor of the host listing positioned after `h` (the stores' `hosts` cursor: listing, hostId). */
function hostCursorAfter(h: HostRecord): string {
  return encodeCursor('hosts', [h.hostId]);
}
