/** A Redis client with the cluster's Lua scripts defined, connected (tests on a real redis-server). */
import { Redis } from 'ioredis';
import { defineClusterScripts } from '../../src/cluster/scripts.js';

export async function clusterClient(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => {});
  defineClusterScripts(client);
  await client.connect();
  return client;
}
