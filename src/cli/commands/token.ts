/** `gsectl token create|list|revoke`: named API tokens with a role each (admin only). */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

const USAGE =
  'usage: gsectl token create --name NAME --role viewer|operator|admin [--app-code CODE] | gsectl token list | gsectl token revoke NAME';

interface TokenView {
  name: string;
  role: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  lastUsedAt?: string;
  appCode?: string;
}

/** Creates, lists or revokes a token. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const [action, arg] = input.positionals;
  const client = new ApiClient(clientOptions(input.values));
  if (action === 'create') {
    const name = input.values.name;
    const role = input.values.role;
    if (typeof name !== 'string' || typeof role !== 'string')
      return { exitCode: 2, stderr: [`gsectl token create: --name and --role are required; ${USAGE}`] };
    const appCode = input.values['app-code'];
    const created = await client.post<TokenView & { token: string }>('tokens', {
      name,
      role,
      ...(typeof appCode === 'string' ? { appCode } : {}),
    });
    return {
      exitCode: 0,
      data: created,
      // The secret is shown this once: the controller keeps only its hash.
      table: () => created.token,
      stderr: [
        `token "${created.name}" (${created.role}${created.appCode ? `, bk_app_code ${created.appCode}` : ''}) created; it is shown only once: store it now`,
      ],
    };
  }
  if (action === 'list') {
    const { items } = await client.get<{ items: TokenView[] }>('tokens');
    return {
      exitCode: 0,
      data: { items },
      table: () =>
        renderTable(
          ['name', 'role', 'app code', 'created', 'created by', 'last used', 'revoked'],
          items.map((t) => [t.name, t.role, t.appCode, t.createdAt, t.createdBy, t.lastUsedAt, t.revokedAt]),
        ),
    };
  }
  if (action === 'revoke' && arg) {
    const rec = await client.post<TokenView>(`tokens/${encodeURIComponent(arg)}/revoke`, {});
    return { exitCode: 0, data: rec, table: () => `${rec.name}: revoked at ${rec.revokedAt ?? '?'}` };
  }
  return { exitCode: 2, stderr: [`gsectl token: ${USAGE}`] };
}
