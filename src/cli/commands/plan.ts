/** `gsectl plan [DIR] --inventory FILE`: the manifests a spec tree yields for an inventory, offline. */
import { resolve } from 'node:path';
import { readInventory } from '../../controller/inventory.js';
import { planManifests } from '../../controller/plan.js';
import { loadRevisionFromDir } from '../../spec/load.js';
import { formatSpecError } from '../../spec/types.js';
import type { CommandInput } from '../commands.js';
import { type CommandResult, renderTable } from '../output.js';

/** Plans every host of the inventory; exit 1 when the tree is invalid or a resource cannot be planned. */
export async function run(input: CommandInput): Promise<CommandResult> {
  const dir = input.positionals[0] ?? '.';
  const inventoryPath = input.values.inventory;
  if (typeof inventoryPath !== 'string') {
    return {
      exitCode: 2,
      stderr: ['gsectl plan: --inventory FILE is required (see examples/inventory.yaml)'],
    };
  }
  const [loaded, inventory] = await Promise.all([
    loadRevisionFromDir(resolve(dir)),
    readInventory(inventoryPath),
  ]);
  if (!loaded.ok) return { exitCode: 1, stderr: loaded.errors.map(formatSpecError) };
  if (!inventory.ok) return { exitCode: 1, stderr: inventory.errors };

  const plan = planManifests(loaded.revision, inventory.inventory.hosts);
  const manifests = [...plan.manifests.values()];
  const errorLines = plan.errors.map((e) => `${e.hostId}: ${e.resource}: ${e.message}`);
  return {
    exitCode: plan.errors.length > 0 ? 1 : 0,
    data: { revision: loaded.revision.id, manifests, errors: plan.errors },
    stderr: errorLines,
    table: () =>
      renderTable(
        ['host', 'items', 'hash', 'resources'],
        manifests.map((m) => [
          m.hostId,
          m.items.length,
          m.hash.slice(0, 12),
          m.items.map((i) => `${i.kind}/${i.name}`).join(' '),
        ]),
      ),
  };
}
