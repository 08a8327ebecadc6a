/**
 * Pure: one GSE data-route write (GSE.md §3.2-3.5), or the process holds of GSE's process operations
 * (plan-process.ts) -> the file changes that make it in the spec tree, and
 * the `data` GSE answers with. Decided against the revision at the branch head, so a retry after another
 * writer moved the branch decides again (a channel id allocated twice, a target deleted meanwhile).
 * Where the files are: layout.ts; the calls: plan-streamto.ts, plan-route.ts.
 */
import type { Revision } from '../spec/types.js';
import type { Obj } from './call-body.js';
import type { WritePlan } from './layout.js';
import { type HoldChange, setProcessHolds } from './plan-process.js';
import { addRoute, deleteRoute, updateRoute } from './plan-route.js';
import { addStreamTo, deleteStreamTo, updateStreamTo } from './plan-streamto.js';

export { specNameOf, WRITE_DIRS, WRITTEN_BY_ANNOTATION, type WritePlan } from './layout.js';
export { FIRST_ALLOCATED_CHANNEL_ID } from './plan-route.js';
export type { HoldChange };

/** The GSE calls that change data routes. */
export const WRITE_ACTIONS = [
  'add_route',
  'update_route',
  'delete_route',
  'add_streamto',
  'update_streamto',
  'delete_streamto',
] as const;
export type WriteAction = (typeof WRITE_ACTIONS)[number];
/** Not a GSE call of its own: the desired state of process operations (`body.changes`, plan-process.ts). */
export const PROCESS_HOLD_ACTION = 'process_hold';
/** What the writer commits: a data-route call, or process holds. */
export type CommitAction = WriteAction | typeof PROCESS_HOLD_ACTION;

/** Decides the change of `action` with `body` over `head`; throws a GseWriteError for a call GSE refuses. */
export function planWrite(action: CommitAction, body: Obj, head: Revision, caller: string): WritePlan {
  switch (action) {
    case PROCESS_HOLD_ACTION:
      return setProcessHolds(body, head, caller);
    case 'add_streamto':
      return addStreamTo(body, head, caller);
    case 'update_streamto':
      return updateStreamTo(body, head, caller);
    case 'delete_streamto':
      return deleteStreamTo(body, head);
    case 'add_route':
      return addRoute(body, head, caller);
    case 'update_route':
      return updateRoute(body, head, caller);
    case 'delete_route':
      return deleteRoute(body, head, caller);
  }
}
