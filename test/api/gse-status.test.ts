import { describe, expect, it } from 'vitest';
import {
  type FleetHostView,
  getAgentStatus,
  getProcStatus,
  listAgentState,
} from '../../src/api/gse-status.js';

const fleet: FleetHostView[] = [
  {
    hostId: 'web-1',
    ips: ['10.0.0.1'],
    cloudId: 0,
    agentVersion: '0.1.0',
    alive: true,
    processes: { nginx: { running: true, ensure: 'running' } },
  },
  {
    hostId: 'web-2',
    ips: ['10.0.0.2'],
    cloudId: 0,
    agentVersion: '0.1.0',
    alive: true,
    processes: { nginx: { running: false, ensure: 'observed' } },
  },
  { hostId: 'db-1', ips: ['10.0.0.3'], cloudId: 2, agentVersion: '0.1.0', alive: false, processes: {} },
];

describe('getAgentStatus', () => {
  it('answers a map keyed cloud:ip with 1 for alive and 0 otherwise', () => {
    const res = getAgentStatus(
      {
        hosts: [
          { ip: '10.0.0.1', bk_cloud_id: 0 },
          { ip: '10.0.0.3', bk_cloud_id: 2 },
          { ip: '10.9.9.9', bk_cloud_id: 0 },
        ],
      },
      fleet,
    );
    expect(res).toEqual({
      result: true,
      code: 0,
      message: 'success',
      data: {
        '0:10.0.0.1': { ip: '10.0.0.1', bk_cloud_id: 0, bk_agent_alive: 1 },
        '2:10.0.0.3': { ip: '10.0.0.3', bk_cloud_id: 2, bk_agent_alive: 0 },
        '0:10.9.9.9': { ip: '10.9.9.9', bk_cloud_id: 0, bk_agent_alive: 0 },
      },
    });
  });

  it('fails in the envelope when hosts is missing', () => {
    expect(getAgentStatus({}, fleet)).toMatchObject({
      result: false,
      data: null,
      message: expect.stringContaining('hosts'),
    });
  });
});

describe('listAgentState', () => {
  it('takes agent ids and cloud:ip, 2 for running and -2 for not found', () => {
    const res = listAgentState({ agent_id_list: ['web-1', '0:10.0.0.2', 'nope', '2:10.0.0.3'] }, fleet);
    expect(res.data).toEqual([
      { bk_agent_id: 'web-1', bk_cloud_id: 0, version: '0.1.0', run_mode: 0, status_code: 2 },
      { bk_agent_id: '0:10.0.0.2', bk_cloud_id: 0, version: '0.1.0', run_mode: 0, status_code: 2 },
      { bk_agent_id: 'nope', bk_cloud_id: 0, version: '', run_mode: 0, status_code: -2 },
      { bk_agent_id: '2:10.0.0.3', bk_cloud_id: 2, version: '0.1.0', run_mode: 0, status_code: -2 },
    ]);
  });
});

describe('getProcStatus', () => {
  it('gives 1 running, 2 stopped, 0 unregistered, and isauto for ensure: running', () => {
    const res = getProcStatus(
      {
        meta: { name: 'nginx', namespace: 'gse' },
        hosts: [{ ip: '10.0.0.1', bk_cloud_id: 0 }],
        agent_id_list: ['web-2', 'db-1'],
      },
      fleet,
    );
    const infos = (
      res.data as {
        proc_infos: Array<{ bk_agent_id: string; status: number; isauto: boolean; host: unknown }>;
      }
    ).proc_infos;
    expect(infos.map((p) => [p.bk_agent_id, p.status, p.isauto])).toEqual([
      ['web-1', 1, true],
      ['web-2', 2, false],
      ['db-1', 0, false],
    ]);
    expect(infos[0]?.host).toEqual({ ip: '10.0.0.1', bk_cloud_id: 0 });
  });
});
