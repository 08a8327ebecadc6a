/** Several controller replicas on one Redis: leader lease, fenced writes, session directory, inboxes. */
export { Cluster, type ClusterHooks, type ClusterOptions } from './cluster.js';
export { ClusterRollouts } from './cluster-rollouts.js';
export { FencedWriteRefusedError, NotLeaderError } from './errors.js';
export { guardedStore, hostWriteGuard } from './guarded-store.js';
export type { InboxWork } from './inbox.js';
export { RemoteRolloutView } from './remote-rollout-view.js';
export { Replica, type ReplicaParts } from './replica.js';
