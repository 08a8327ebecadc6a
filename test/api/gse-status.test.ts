import { describe, expect, it } from 'vitest';
import {
  type FleetHostView,
  getAgentStatus,
  getProcStatus,
  listAgentState,
  STATUS_OFFLINE,
} from '../../src/api/gse/status.js';

const fleet: FleetHostView[] = [
  {
    hostId: 'web-1',
    gseAgentId: '0100005254008ed86116666614661851',
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
  {
    hostId: 'db-1',
    ips: ['10.0.0.3'],
    cloudId: 2,
    agentVersion: '0.0.9',
    alive: false,
    processes: { nginx: { running: true, ensure: 'running' } },
  },
  {
    hostId: 'web-3',
    ips: ['10.0.0.4'],
    cloudId: 0,
    agentVersion: '0.1.0',
    alive: true,
    processes: { bkmonitorbeat: { running: true, ensure: 'running', namespace: 'nodeman' } },
  },
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
  it('answers known ids in every form, offline hosts with their cloud id and version, and leaves unknown ids out', () => {
    const res = listAgentState(
      { agent_id_list: ['web-1', '0:10.0.0.2', 'nope', '2:10.0.0.3', '0100005254008ED86116666614661851'] },
      fleet,
    );
    expect(res).toMatchObject({ result: true, code: 0 });
    expect(res.data).toEqual([
      { bk_agent_id: 'web-1', bk_cloud_id: 0, version: '0.1.0', run_mode: 0, status_code: 2 },
      { bk_agent_id: '0:10.0.0.2', bk_cloud_id: 0, version: '0.1.0', run_mode: 0, status_code: 2 },
      {
        bk_agent_id: '2:10.0.0.3',
        bk_cloud_id: 2,
        version: '0.0.9',
        run_mode: 0,
        status_code: STATUS_OFFLINE,
      },
      {
        bk_agent_id: '0100005254008ED86116666614661851',
        bk_cloud_id: 0,
        version: '0.1.0',
        run_mode: 0,
        status_code: 2,
      },
    ]);
  });

  it('answers code 1011003 when none of the ids is known', () => {
    expect(listAgentState({ agent_id_list: ['nope', '9:10.9.9.9'] }, fleet)).toMatchObject({
      result: false,
      code: 1011003,
      data: null,
    });
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
      ['0100005254008ed86116666614661851', 1, true],
      ['web-2', 2, false],
      ['db-1', 0, true],
    ]);
    expect(infos[0]?.host).toEqual({ ip: '10.0.0.1', bk_cloud_id: 0 });
  });
});

describe('getProcStatus namespaces', () => {
  const ask = (namespace: string | undefined, name: string, top?: string) =>
    (
      getProcStatus(
        {
          ...(top === undefined ? {} : { namespace: top }),
          meta: { name, ...(namespace === undefined ? {} : { namespace }), labels: { proc_name: name } },
          agent_id_list: ['web-3', 'web-1'],
        },
        fleet,
      ).data as { proc_infos: Array<{ status: number; meta: { namespace: string } }> }
    ).proc_infos;

  it('finds a watch with a gse.namespace label only under that namespace', () => {
    expect(ask('nodeman', 'bkmonitorbeat').map((p) => p.status)).toEqual([1, 0]);
    expect(ask('gse', 'bkmonitorbeat').map((p) => p.status)).toEqual([0, 0]);
    expect(ask(undefined, 'bkmonitorbeat', 'nodeman').map((p) => p.status)).toEqual([1, 0]);
    expect(ask(undefined, 'bkmonitorbeat', 'nodeman')[0]?.meta.namespace).toBe('nodeman');
  });

  it('finds a watch without the label under any namespace', () => {
    expect(ask('nodeman', 'nginx').map((p) => p.status)).toEqual([0, 1]);
    expect(ask('', 'nginx').map((p) => p.status)).toEqual([0, 1]);
  });

  it('answers the cloud id and ip of a cloud:ip agent id that no host has, with status 0', () => {
    const res = getProcStatus({ meta: { name: 'nginx' }, agent_id_list: ['3:10.8.8.8'] }, fleet);
    expect((res.data as { proc_infos: unknown[] }).proc_infos).toEqual([
      expect.objectContaining({
        host: { ip: '10.8.8.8', bk_cloud_id: 3 },
        bk_agent_id: '3:10.8.8.8',
        status: 0,
      }),
    ]);
  });
});
