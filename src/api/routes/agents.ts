/** Agent enrollment: list, approve, revoke, reset. A credential hash never leaves the controller. */

import { AgentNotFoundError, AgentStateError } from '../../fleet/errors.js';
import type { AgentRecord } from '../../fleet/index.js';
import { conflict, notFound } from '../http-error.js';
import type { ApiPort } from '../port.js';
import type { Route } from '../router.js';

/** An agent record as the API shows it. */
export type AgentView = Omit<AgentRecord, 'credentialHash'>;

function strip(rec: AgentRecord): AgentView {
  const { credentialHash: _hidden, ...rest } = rec;
  return rest;
}

/** The agent routes. */
export function agentRoutes(port: ApiPort): Route[] {
  const { agents } = port;
  return [
    {
      method: 'GET',
      pattern: '/api/v1/agents',
      role: 'viewer',
      handler: async () => ({
        items: (await agents.list()).map((rec) => {
          const rest = strip(rec);
          return { ...rest, state: agents.stateOf(rest.agentId) };
        }),
      }),
    },
    {
      method: 'POST',
      pattern: '/api/v1/agents/:id/approve',
      role: 'admin',
      handler: (ctx) => agents.approve(ctx.params.id as string).then(strip),
    },
    {
      method: 'POST',
      pattern: '/api/v1/agents/:id/revoke',
      role: 'admin',
      handler: (ctx) => agents.revoke(ctx.params.id as string).then(strip),
    },
    {
      method: 'POST',
      pattern: '/api/v1/agents/:id/reset',
      role: 'admin',
      handler: (ctx) =>
        agents
          .reset(ctx.params.id as string)
          .then(strip)
          .catch((err: unknown) => {
            if (err instanceof AgentNotFoundError) throw notFound(err.message);
            if (err instanceof AgentStateError) throw conflict(err.message);
            throw err;
          }),
    },
  ];
}
