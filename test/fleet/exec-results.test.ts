/** Which execution results an agent may report (pure rule of src/controller/exec-service.ts). */
import { describe, expect, it } from 'vitest';
import { resultRefusal } from '../../src/controller/exec-service.js';
import type { HostManifest } from '../../src/protocol/manifest.js';

const manifest = {
  hostId: 'web-1',
  items: [
    { kind: 'ConfigFile', name: 'app', onChange: { run: 'true', timeoutMs: 1000 } },
    { kind: 'ConfigFile', name: 'quiet' },
    { kind: 'Remediation', name: 'heal' },
  ],
} as unknown as HostManifest;

describe('resultRefusal', () => {
  it.each([
    {
      name: 'an ad-hoc result for a task sent to the host',
      msg: { taskId: 't1', reason: 'adhoc' },
      existing: { reason: 'adhoc', status: 'running' as const },
      error: undefined,
    },
    {
      name: 'an ad-hoc result for a task never sent to the host',
      msg: { taskId: 't2', reason: 'adhoc' },
      existing: undefined,
      error: 'task t2 was not sent to web-1',
    },
    {
      name: 'a result that relabels an ad-hoc task as an onChange',
      msg: { taskId: 't1', reason: 'onChange:ConfigFile/app' },
      existing: { reason: 'adhoc', status: 'running' as const },
      error: 'task t1 was sent to web-1 as adhoc, not onChange:ConfigFile/app',
    },
    {
      name: 'a second result for a finished execution',
      msg: { taskId: 't1', reason: 'adhoc' },
      existing: { reason: 'adhoc', status: 'succeeded' as const },
      error: 'execution t1 on web-1 already finished (succeeded); a second result does not overwrite it',
    },
    {
      name: 'an onChange result for a ConfigFile with onChange',
      msg: { taskId: 'onChange:ConfigFile/app@abc@1', reason: 'onChange:ConfigFile/app' },
      existing: undefined,
      error: undefined,
    },
    {
      name: 'an onChange result for a ConfigFile without onChange',
      msg: { taskId: 'onChange:ConfigFile/quiet@abc@1', reason: 'onChange:ConfigFile/quiet' },
      existing: undefined,
      error: 'the manifest of web-1 holds no ConfigFile with onChange named ConfigFile/quiet',
    },
    {
      name: 'a remediation result for a resource the manifest lacks',
      msg: { taskId: 'remediation:Remediation/other@t@', reason: 'remediation:Remediation/other' },
      existing: undefined,
      error: 'the manifest of web-1 holds no Remediation named Remediation/other',
    },
    {
      name: 'a remediation result for a Remediation in the manifest',
      msg: { taskId: 'remediation:Remediation/heal@t@', reason: 'remediation:Remediation/heal' },
      existing: undefined,
      error: undefined,
    },
    {
      name: 'an onChange result whose task id does not carry its reason',
      msg: { taskId: 'd6f1c2', reason: 'onChange:ConfigFile/app' },
      existing: undefined,
      error:
        'task id d6f1c2 does not belong to onChange:ConfigFile/app (expected "onChange:ConfigFile/app@...")',
    },
    {
      name: 'an unknown reason',
      msg: { taskId: 'x', reason: 'whatever' },
      existing: undefined,
      error: 'task x was not sent to web-1',
    },
  ])('answers $error for $name', ({ msg, existing, error }) => {
    expect(resultRefusal('web-1', msg, existing, manifest)).toBe(error);
  });
});
