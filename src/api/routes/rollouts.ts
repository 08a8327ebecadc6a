/** AgentVersion rollouts: list, one, and the operator's pause, resume and undo (audited, operator role). */
import { HttpError, notFound } from '../http-error.js';
import type { ApiPort } from '../port.js';
import type { RequestContext, Route } from '../router.js';

/** The rollout routes. */
export function rolloutRoutes(port: ApiPort): Route[] {
  const { rollouts } = port;
  const act = (action: 'pause' | 'resume' | 'undo') => async (ctx: RequestContext) => {
    const name = ctx.params.name as string;
    ctx.auditDetail = { rollout: name };
    try {
      return await rollouts[action](name, ctx.actor?.name ?? 'unknown');
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (status === 404 || status === 409)
        throw new HttpError(status, status === 404 ? 'not_found' : 'conflict', (err as Error).message);
      throw err;
    }
  };
  return [
    {
      method: 'GET',
      pattern: '/api/v1/rollouts',
      role: 'viewer',
      handler: async () => ({ items: await rollouts.list() }),
    },
    {
      method: 'GET',
      pattern: '/api/v1/rollouts/:name',
      role: 'viewer',
      handler: async (ctx) => {
        const view = await rollouts.get(ctx.params.name as string);
        if (!view) throw notFound(`no rollout "${ctx.params.name}"`);
        return view;
      },
    },
    { method: 'POST', pattern: '/api/v1/rollouts/:name/pause', role: 'operator', handler: act('pause') },
    { method: 'POST', pattern: '/api/v1/rollouts/:name/resume', role: 'operator', handler: act('resume') },
    { method: 'POST', pattern: '/api/v1/rollouts/:name/undo', role: 'operator', handler: act('undo') },
  ];
}
