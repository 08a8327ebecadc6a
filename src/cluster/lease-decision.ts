/**
 * The leader lease as a pure state machine: what this replica believes after one acquire-or-renew attempt,
 * from (the time it was sent, the time now, what Redis answered, what it believed before, its id). No I/O.
 */

/** What the acquire-or-renew script answered: the holder, its fencing token and the lease's time left. */
export interface LeaseRead {
  holder: string;
  token: number;
  ttlMs: number;
}

/** What a replica believes about the lease (times are its own clock, epoch ms). */
export interface LeaseView {
  role: 'leader' | 'follower';
  /** The holder's fencing token, when known. */
  token?: number;
  /** The holder, when known. */
  holder?: string;
  /** A leader leads until then unless it renews: the lease's end measured from when the attempt was SENT. */
  validUntil: number;
}

export type LeaseChange = 'elected' | 'deposed' | undefined;

/** Taken off a lease's end, so a leader stops before any other replica can start (clocks drift a little). */
export const LEASE_SAFETY_FRACTION = 0.1;

export const NO_LEASE: LeaseView = { role: 'follower', validUntil: 0 };

/** True when `view` makes this replica the leader at `now`. */
export function leadsAt(view: LeaseView, now: number): boolean {
  return view.role === 'leader' && now < view.validUntil;
}

/**
 * The next view after one attempt. `reply` is undefined when Redis could not be asked: a leader keeps
 * leading until its lease would have ended, never longer. A lease held by me is good until
 * `sentAt + ttl - safety`; a reply that arrives after that is no lease.
 */
export function decideLease(input: {
  me: string;
  sentAt: number;
  now: number;
  reply: LeaseRead | undefined;
  previous: LeaseView;
}): { view: LeaseView; change: LeaseChange } {
  const { me, sentAt, now, reply, previous } = input;
  const wasLeader = leadsAt(previous, now) || previous.role === 'leader';
  let view: LeaseView;
  if (reply === undefined) {
    view = leadsAt(previous, now) ? previous : { ...previous, role: 'follower' };
  } else if (reply.holder === me) {
    const validUntil = sentAt + reply.ttlMs - Math.ceil(reply.ttlMs * LEASE_SAFETY_FRACTION);
    view =
      now < validUntil
        ? { role: 'leader', token: reply.token, holder: me, validUntil }
        : { role: 'follower', token: reply.token, holder: me, validUntil: 0 };
  } else {
    view = { role: 'follower', token: reply.token, holder: reply.holder, validUntil: 0 };
  }
  const leads = view.role === 'leader';
  let change: LeaseChange;
  if (leads && (!wasLeader || previous.token !== view.token)) change = 'elected';
  else if (!leads && wasLeader) change = 'deposed';
  return { view, change };
}
