/** The Redis keys the replicas share, under the store's prefix (default `gse:`). */

export interface ClusterKeys {
  /** The store's prefix the keys sit under. */
  prefix: string;
  /** `<token>:<replicaId>`, with the lease's TTL. */
  lease: string;
  /** INCR'd at every new lease: the fencing token. */
  fencingToken: string;
  /** The revision the leader published (JSON, see revision-codec.ts). */
  revision: string;
  /** Pub/sub: revision and rollout changes (`revision:<sha>`, `rollouts`). */
  events: string;
  /** Pub/sub: an execution result was stored (`<origin>\t<taskId>\t<hostId>`). */
  results: string;
  /** hostId -> replica id holding its session. */
  holders: string;
  /** hostId scored by when its directory entry expires (Redis time, ms). */
  sessionExpiry: string;
  /** replica id scored by when it was last heard of (Redis time, ms). */
  replicas: string;
  /** The stream of work for one replica. */
  inbox(replicaId: string): string;
}

/** The cluster's keys under `prefix`. */
export function clusterKeys(prefix = 'gse:'): ClusterKeys {
  const k = (name: string) => `${prefix}cluster:${name}`;
  return {
    prefix,
    lease: k('lease'),
    fencingToken: k('fencing-token'),
    revision: k('revision'),
    events: k('events'),
    results: k('results'),
    holders: k('holders'),
    sessionExpiry: k('session-expiry'),
    replicas: k('replicas'),
    inbox: (id) => k(`inbox:${id}`),
  };
}
