/**
 * Agent authentication: enrollment with the bootstrap token, then a per-agent credential of which only the
 * sha256 is stored. Every secret comparison is timing-safe.
 *
 * Re-enrollment: the bootstrap token never takes over an id that holds an approved credential (else anyone
 * holding the fleet-wide token could borrow any host's identity). Such a hello is refused with
 * `reenroll_refused`; an operator runs `gsectl agents reset ID` (hub.reset), which clears the credential,
 * and the next bootstrap-token enrollment for that id gets a new one (after approval under manual
 * approval). That is also the path for a wiped host that lost its identity.json. Revoked and pending ids
 * cannot enroll either.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CLOSE_CODES, type ControllerErrorCode, ERROR_CODES } from '../protocol/codes.js';
import type { HelloMessage } from '../protocol/messages.js';
import type { AgentRecord, AgentRegistry } from './registry.js';

/** Random bytes in a credential. */
export const CREDENTIAL_BYTES = 32;

export type AuthOutcome =
  | {
      ok: true;
      record: AgentRecord /** Set when a credential was issued by this handshake. */;
      credential?: string;
    }
  | { ok: false; code: ControllerErrorCode; message: string; closeCode: number };

export interface AuthContext {
  registry: AgentRegistry;
  bootstrapToken: string;
  autoApprove: boolean;
  /** ISO time, for record timestamps. */
  now(): string;
}

/** A new random credential: 32 bytes, base64url. */
export function newCredential(): string {
  return randomBytes(CREDENTIAL_BYTES).toString('base64url');
}

/** sha256 (hex) of a credential: what the registry stores. */
export function hashCredential(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

/** Compares two secrets in time independent of where they differ (and of their lengths). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** Decides whether a hello may open a session, issuing or rotating the credential on enrollment. */
export async function authenticate(hello: HelloMessage, ctx: AuthContext): Promise<AuthOutcome> {
  if (hello.credential !== undefined) return byCredential(hello, hello.credential, ctx);
  if (hello.bootstrapToken !== undefined) return byBootstrapToken(hello, hello.bootstrapToken, ctx);
  return refuse(ERROR_CODES.badCredential, 'hello carries neither a credential nor a bootstrap token');
}

async function byCredential(hello: HelloMessage, credential: string, ctx: AuthContext): Promise<AuthOutcome> {
  const rec = await ctx.registry.getAgent(hello.agentId);
  if (!rec || !hashMatches(credential, rec.credentialHash)) {
    return refuse(ERROR_CODES.badCredential, `credential rejected for agent ${hello.agentId}`);
  }
  const refusal = statusRefusal(rec);
  if (refusal) return refusal;
  if (rec.name !== hello.facts.name) {
    const renamed = { ...rec, name: hello.facts.name, updatedAt: ctx.now() };
    await ctx.registry.putAgent(renamed);
    return { ok: true, record: renamed };
  }
  return { ok: true, record: rec };
}

async function byBootstrapToken(hello: HelloMessage, token: string, ctx: AuthContext): Promise<AuthOutcome> {
  if (!secretsEqual(token, ctx.bootstrapToken)) {
    return refuse(ERROR_CODES.badToken, 'bootstrap token rejected');
  }
  const existing = await ctx.registry.getAgent(hello.agentId);
  if (existing) {
    const refusal = statusRefusal(existing);
    if (refusal) return refusal;
    if (existing.credentialHash !== '') return reenrollRefusal(existing.agentId);
  }
  const now = ctx.now();
  const base = {
    agentId: hello.agentId,
    name: hello.facts.name,
    enrolledAt: existing?.enrolledAt ?? now,
    updatedAt: now,
  };
  if (!existing && !ctx.autoApprove) {
    await ctx.registry.putAgent({ ...base, credentialHash: '', status: 'pending' });
    return pendingRefusal(hello.agentId);
  }
  // New and auto-approved, or approved by an operator (approve/reset) with no credential yet: issue one.
  const credential = newCredential();
  const record: AgentRecord = { ...base, credentialHash: hashCredential(credential), status: 'approved' };
  await ctx.registry.putAgent(record);
  return { ok: true, record, credential };
}

function statusRefusal(rec: AgentRecord): AuthOutcome | undefined {
  if (rec.status === 'revoked') {
    return refuse(ERROR_CODES.revoked, `agent ${rec.agentId} is revoked`, CLOSE_CODES.forbidden);
  }
  if (rec.status === 'pending') return pendingRefusal(rec.agentId);
  return undefined;
}

function pendingRefusal(agentId: string): AuthOutcome {
  return refuse(
    ERROR_CODES.pendingApproval,
    `agent ${agentId} awaits approval: gsectl agents approve ${agentId}`,
    CLOSE_CODES.forbidden,
  );
}

/** The operator's way back for a held id: the message names the command (the agent prints it and exits). */
function reenrollRefusal(agentId: string): AuthOutcome {
  return refuse(
    ERROR_CODES.reenrollRefused,
    `agent ${agentId} already holds an approved credential; to enroll it again run: gsectl agents reset ${agentId}`,
    CLOSE_CODES.forbidden,
  );
}

function refuse(
  code: ControllerErrorCode,
  message: string,
  closeCode: number = CLOSE_CODES.unauthenticated,
): AuthOutcome {
  return { ok: false, code, message, closeCode };
}

function hashMatches(credential: string, storedHash: string): boolean {
  if (storedHash === '') return false;
  return timingSafeEqual(sha256(hashCredential(credential)), sha256(storedHash));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
