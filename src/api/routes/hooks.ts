/** POST /api/v1/hooks/git: a push webhook (GitHub, GitLab, Gitea) that makes the controller fetch now. */
import { parseGitWebhook } from '../../source/webhook.js';
import { HttpError } from '../http-error.js';
import type { ApiPort } from '../port.js';
import type { Route } from '../router.js';

/** The webhook route: public, authenticated by the webhook's own secret when one is set. */
export function hookRoutes(port: ApiPort): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/v1/hooks/git',
      role: 'public',
      handler: async (ctx) => {
        const body = await ctx.body();
        const parsed = parseGitWebhook(ctx.req.headers, body, port.config.webhookSecret, {
          branch: port.config.branch,
        });
        if (!parsed.ok) {
          if (parsed.status === 202) return { accepted: true, ignored: true, message: parsed.message };
          throw new HttpError(
            parsed.status,
            parsed.status === 401 ? 'unauthorized' : 'bad_request',
            parsed.message,
          );
        }
        const revision = await port.fetchNow();
        return { accepted: true, provider: parsed.event.provider, revision: revision?.sha ?? null };
      },
    },
  ];
}
