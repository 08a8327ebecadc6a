/**
 * The spec tree of the spec-load benchmark: `documents` documents of every common kind over `files` YAML
 * files, plus the ConfigFile sources they name; valid by construction.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** ConfigFile sources in `files/` (every third ConfigFile names one). */
export const SOURCE_FILE_COUNT = 100;

/** The kinds in the generated tree and their share of documents (a fleet is mostly config and watches). */
const MIX: Array<[kind: string, weight: number]> = [
  ['ConfigFile', 35],
  ['ProcessWatch', 15],
  ['Route', 15],
  ['StreamTarget', 10],
  ['Remediation', 10],
  ['HostGroup', 10],
  ['AgentVersion', 5],
];

function kindOf(i: number): string {
  const total = MIX.reduce((n, [, w]) => n + w, 0);
  let slot = (i * 37) % total;
  for (const [kind, w] of MIX) {
    if (slot < w) return kind;
    slot -= w;
  }
  return 'ConfigFile';
}

function doc(kind: string, i: number, targets: number): string {
  const head = `apiVersion: gse/v1\nkind: ${kind}\nmetadata:\n  name: ${kind.toLowerCase()}-${i}\n  labels: { team: team-${i % 17}, tier: "a" }\n`;
  const hosts = `  hosts:\n    matchLabels: { role: role-${i % 23} }\n    names: ["web-${i % 50}-*", "api-?${i % 7}"]\n`;
  switch (kind) {
    case 'ConfigFile':
      return `${head}spec:\n${hosts}  path: /etc/app/conf-${i}.conf\n${
        i % 3 === 0
          ? `  source: files/app-${i % SOURCE_FILE_COUNT}.conf\n  template: true\n`
          : '  content: |\n    key = value\n    other = 1\n'
      }  mode: "0640"\n  owner: root:root\n  onChange: { run: "systemctl reload app-${i}", timeout: 30s }\n  syncPolicy: { selfHeal: true, prune: ${i % 2 === 0} }\n`;
    case 'ProcessWatch':
      return `${head}spec:\n${hosts}  process: { name: proc-${i}, cmdline: "proc-${i} --serve .*" }\n  ensure: running\n  start: systemctl start proc-${i}\n  probeInterval: 10s\n`;
    case 'Route':
      return `${head}spec:\n  channel: ${1000 + i}\n${hosts}  filters:\n    allOf:\n      - { field: level, op: ne, value: debug }\n    anyOf:\n      - { field: type, op: regex, value: "^process\\\\." }\n      - { field: type, op: in, value: [disk.full, corefile] }\n  targets:\n    - name: streamtarget-${(i * 7) % targets}\n  batch: { maxRecords: 500, maxDelay: 200ms }\n  format: ${i % 2 ? 'gse' : 'json'}\n`;
    case 'StreamTarget':
      return `${head}spec:\n  redis:\n    url: redis://redis-${i % 5}:6379/0\n    mode: stream\n    key: gse:events:${i}\n    maxLen: 100000\n    passwordFrom: { env: REDIS_PASSWORD }\n  spool: { maxBytes: 268435456 }\n`;
    case 'Remediation':
      return `${head}spec:\n  on: { event: process.down, match: { process: proc-${i} } }\n${hosts}  run:\n    script: systemctl restart proc-${i}\n    interpreter: /bin/sh\n    timeout: 60s\n  cooldown: 5m\n  maxPerHour: 4\n`;
    case 'HostGroup':
      return `${head}spec:\n  match:\n    names: ["host-${i}-*"]\n    cidrs: ["10.${i % 250}.0.0/16"]\n    cloudIds: [${i % 4}]\n  labels: { role: role-${i % 23}, dc: dc-${i % 3} }\n`;
    default:
      return `${head}spec:\n  version: 1.${i % 9}.0\n${hosts}  rollout: { batchSize: 25%, maxUnavailable: 1, pauseBetween: 1m, mode: auto }\n`;
  }
}

/** Writes the tree; StreamTargets get indexes 0..n-1 by construction so every Route target resolves. */
export async function generateSpecTree(
  dir: string,
  documents: number,
  files: number,
): Promise<Map<string, string>> {
  const perFile = Math.ceil(documents / files);
  const contents = new Map<string, string>();
  const counters = new Map<string, number>();
  const bodies: string[][] = Array.from({ length: files }, () => []);
  const targetCount = Math.max(1, Math.round((documents * 10) / 100));
  for (let i = 0; i < documents; i++) {
    const kind = kindOf(i);
    const n = counters.get(kind) ?? 0;
    counters.set(kind, n + 1);
    bodies[Math.floor(i / perFile)]?.push(
      doc(kind, n, Math.min(targetCount, counters.get('StreamTarget') ?? 1)),
    );
  }
  bodies.forEach((docs, f) => {
    contents.set(`fleet/group-${f % 20}/specs-${f}.yaml`, docs.join('---\n'));
  });
  for (let s = 0; s < SOURCE_FILE_COUNT; s++)
    contents.set(`files/app-${s}.conf`, `# app ${s}\nport = ${8000 + s}\n`);
  for (const [path, text] of contents) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return contents;
}
