/** A stored host record for store and cluster tests: connected and Synced unless `over` says otherwise. */
import type { HostRecord } from '../../src/store/types.js';

export function hostRecord(hostId: string, over: Partial<HostRecord> = {}): HostRecord {
  return {
    hostId,
    name: hostId,
    ips: ['10.0.0.1'],
    cloudId: 0,
    labels: { role: 'web' },
    firstSeen: '2026-01-01T00:00:00.000Z',
    lastSeen: '2026-01-01T00:01:00.000Z',
    connected: true,
    syncState: 'Synced',
    ...over,
  };
}
