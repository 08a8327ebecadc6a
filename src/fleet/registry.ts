/** Persisted agent credentials: the interface the store implements, and an in-memory implementation. */

export type AgentStatus = 'pending' | 'approved' | 'revoked';

export interface AgentRecord {
  agentId: string;
  name: string;
  /** sha256 (hex) of the agent's credential; '' while none was issued (pending, or after a revoke). */
  credentialHash: string;
  status: AgentStatus;
  enrolledAt: string;
  updatedAt: string;
}

export interface AgentRegistry {
  getAgent(agentId: string): Promise<AgentRecord | undefined>;
  putAgent(rec: AgentRecord): Promise<void>;
  listAgents(): Promise<AgentRecord[]>;
}

/** An AgentRegistry in memory: for tests and throw-away controllers. Records are copied in and out. */
export class MemoryAgentRegistry implements AgentRegistry {
  private readonly agents = new Map<string, AgentRecord>();

  constructor(initial: readonly AgentRecord[] = []) {
    for (const rec of initial) this.agents.set(rec.agentId, { ...rec });
  }

  /** The record of `agentId`, or undefined. */
  async getAgent(agentId: string): Promise<AgentRecord | undefined> {
    const rec = this.agents.get(agentId);
    return rec ? { ...rec } : undefined;
  }

  /** Inserts or replaces the record of `rec.agentId`. */
  async putAgent(rec: AgentRecord): Promise<void> {
    this.agents.set(rec.agentId, { ...rec });
  }

  /** Every record, sorted by agent id. */
  async listAgents(): Promise<AgentRecord[]> {
    return [...this.agents.values()]
      .sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0))
      .map((r) => ({ ...r }));
  }
}
