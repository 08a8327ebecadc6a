/** GSE agent ids as bk-job and bk-nodeman send them, resolved to this fleet's hosts. */
import type { GseHost } from './port.js';

/** Index of the fleet by agent id and by every `"cloud:ip"`. */
export class AgentIndex {
  private readonly byId = new Map<string, GseHost>();
  private readonly byCloudIp = new Map<string, GseHost>();

  constructor(hosts: readonly GseHost[]) {
    for (const h of hosts) {
      this.byId.set(h.hostId, h);
      for (const ip of h.ips) this.byCloudIp.set(`${h.cloudId}:${ip}`, h);
    }
  }

  /** The host an agent id names: a gse-gitops agent id (the GSE 2.0 form) or `"cloud:ip"`. */
  resolve(agentId: string): GseHost | undefined {
    return this.byId.get(agentId) ?? this.byCloudIp.get(agentId);
  }
}
