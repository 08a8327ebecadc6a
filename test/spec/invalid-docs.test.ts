import { afterAll, describe, expect, it } from 'vitest';
import { loadRevisionFromDir } from '../../src/spec/load.js';
import type { SpecError } from '../../src/spec/types.js';
import {
  CONFIG_FILE,
  PROCESS_WATCH,
  ROUTE,
  STREAM_TARGET,
  type TempTree,
  tempTree,
  yaml,
} from './helpers.js';

interface InvalidCase {
  name: string;
  files: Record<string, string>;
  /**
   * Every error, in order, as `file:line:col: path: message-prefix` (`file:line: ...` where the column
   * comes from the YAML library's recovery and may move between its versions).
   */
  errors: string[];
  /** Allow further errors after those listed (a YAML syntax error can cascade). */
  more?: boolean;
}

/** A HostCheck document whose spec ends with `probe` lines (the spec starts on line 4). */
function hostCheck(...probe: string[]): string {
  return yaml(
    'apiVersion: gse/v1',
    'kind: HostCheck',
    'metadata: { name: c }',
    'spec:',
    '  hosts: { names: ["*"] }',
    ...probe,
  );
}

const ST_ROUTE = `${STREAM_TARGET}---\n${ROUTE}`; // the Route starts on line 10

const cases: InvalidCase[] = [
  // ---- YAML syntax and document shape
  {
    name: 'an unclosed flow sequence',
    files: { 'a.yaml': CONFIG_FILE.replace('{ names: ["*"] }', '{ names: ["*" }') },
    // Both constructs open on line 6: the `{` at column 10 and the `[` at column 19.
    errors: [
      'a.yaml:6:10: YAML: the flow mapping { opened here is never closed',
      'a.yaml:6:19: YAML: the flow sequence [ opened here is never closed',
    ],
    more: true,
  },
  {
    name: 'an unterminated double quote (at the line that opens it, not the end of the file)',
    files: { 'a.yaml': `${CONFIG_FILE.replace('content: hello', 'content: "hello')}---\n${PROCESS_WATCH}` },
    errors: ['a.yaml:8:12: YAML: a double-quoted string opened here is never closed'],
    more: true,
  },
  {
    name: 'an unterminated single quote',
    files: { 'a.yaml': CONFIG_FILE.replace('path: /etc/motd', "path: '/etc/motd") },
    errors: ['a.yaml:7:9: YAML: a single-quoted string opened here is never closed'],
    more: true,
  },
  {
    name: 'an unclosed flow mapping followed by more lines',
    files: { 'a.yaml': CONFIG_FILE.replace('metadata:\n  name: motd', 'metadata: { name: motd') },
    errors: ['a.yaml:3:11: YAML: the flow mapping { opened here is never closed'],
    more: true,
  },
  {
    name: 'a tab used as indentation',
    files: { 'a.yaml': CONFIG_FILE.replace('  path:', '\tpath:') },
    errors: ['a.yaml:7:1: YAML: Tabs are not allowed as indentation'],
    more: true,
  },
  {
    name: 'a duplicate key',
    files: { 'a.yaml': `${CONFIG_FILE}  path: /etc/other\n` },
    errors: ['a.yaml:9:3: YAML: Map keys must be unique'],
  },
  {
    name: 'an unknown YAML tag',
    files: { 'a.yaml': CONFIG_FILE.replace('content: hello', 'content: !Ref hello') },
    errors: ['a.yaml:8:12: YAML: Unresolved tag: !Ref'],
  },
  {
    name: 'an alias that contains itself',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: HostGroup',
        'metadata: { name: g }',
        'spec: &a',
        '  match: *a',
      ),
    },
    errors: ['a.yaml:5:10: YAML: alias *a refers to a node that contains it'],
  },
  {
    name: 'a document that is a list',
    files: { 'a.yaml': yaml('- a', '- b') },
    errors: ['a.yaml:1:1: a document must be a mapping with apiVersion, kind, metadata and spec'],
  },
  {
    name: 'a document without apiVersion and kind',
    files: { 'a.yaml': yaml('# a comment', 'metadata:', '  name: x') },
    errors: ['a.yaml:2:1: document has no apiVersion and kind'],
  },
  {
    name: 'a wrong apiVersion',
    files: { 'a.yaml': CONFIG_FILE.replace('gse/v1', 'gse/v2') },
    errors: ['a.yaml:1:13: apiVersion: must be "gse/v1", not the string "gse/v2"'],
  },
  {
    name: 'a misspelt kind',
    files: { 'a.yaml': CONFIG_FILE.replace('kind: ConfigFile', 'kind: ConfigFiles') },
    errors: ['a.yaml:2:7: kind: unknown kind "ConfigFiles"; did you mean "ConfigFile"?'],
  },
  {
    name: 'a kind of another system',
    files: { 'a.yaml': CONFIG_FILE.replace('kind: ConfigFile', 'kind: Deployment') },
    errors: [
      'a.yaml:2:7: kind: unknown kind "Deployment" (one of StreamTarget, Route, AgentVersion, ConfigFile',
    ],
  },
  {
    name: 'a missing apiVersion',
    files: { 'a.yaml': CONFIG_FILE.replace('apiVersion: gse/v1\n', '') },
    errors: ['a.yaml:1:1: apiVersion: missing required field "apiVersion"'],
  },
  {
    name: 'a missing kind',
    files: { 'a.yaml': CONFIG_FILE.replace('kind: ConfigFile\n', '') },
    errors: ['a.yaml:1:1: kind: missing required field "kind"'],
  },
  {
    name: 'a missing spec',
    files: { 'a.yaml': yaml('apiVersion: gse/v1', 'kind: HostGroup', 'metadata: { name: g }') },
    errors: ['a.yaml:1:1: spec: missing required field "spec"'],
  },
  {
    name: 'an empty spec',
    files: { 'a.yaml': yaml('apiVersion: gse/v1', 'kind: HostGroup', 'metadata: { name: g }', 'spec:') },
    errors: ['a.yaml:4:1: spec: must be a mapping, not empty (null)'],
  },
  // ---- metadata
  {
    name: 'a missing metadata.name',
    files: { 'a.yaml': CONFIG_FILE.replace('  name: motd', '  labels: { a: b }') },
    errors: ['a.yaml:3:1: metadata.name: missing required field "name"'],
  },
  {
    name: 'a name that is not DNS-1123',
    files: { 'a.yaml': CONFIG_FILE.replace('name: motd', 'name: Web_App') },
    errors: [
      'a.yaml:4:9: metadata.name: invalid value "Web_App": use lower-case letters, digits, "-" and "."',
    ],
  },
  {
    name: 'a name longer than 253 characters',
    files: { 'a.yaml': CONFIG_FILE.replace('name: motd', `name: ${'a'.repeat(254)}`) },
    errors: ['a.yaml:4:9: metadata.name: must be at most 253 characters long (it has 254)'],
  },
  {
    name: 'a label value that YAML reads as a number',
    files: { 'a.yaml': CONFIG_FILE.replace('  name: motd\n', '  name: motd\n  labels:\n    tier: 1\n') },
    errors: ['a.yaml:6:11: metadata.labels.tier: must be a string, not the number 1; quote it: "1"'],
  },
  {
    name: 'a label key with a space',
    files: { 'a.yaml': CONFIG_FILE.replace('  name: motd\n', '  name: motd\n  labels: { "bad key": x }\n') },
    errors: ['a.yaml:5:13: metadata.labels["bad key"]: invalid key "bad key": a label key is'],
  },
  // ---- unknown fields
  {
    name: 'a misspelt top-level field',
    files: { 'a.yaml': CONFIG_FILE.replace('spec:', 'specs:') },
    errors: ['a.yaml:5:1: specs: unknown field "specs"; did you mean "spec"?'],
  },
  {
    name: 'a misspelt Route field',
    files: { 'a.yaml': ST_ROUTE.replace('targets:', 'tragets:') },
    errors: ['a.yaml:16:3: spec.tragets: unknown field "tragets"; did you mean "targets"?'],
  },
  {
    name: 'a misspelt metadata field',
    files: { 'a.yaml': CONFIG_FILE.replace('  name: motd\n', '  name: motd\n  lables: { a: b }\n') },
    errors: ['a.yaml:5:3: metadata.lables: unknown field "lables"; did you mean "labels"?'],
  },
  {
    name: 'an unknown field far from every known one',
    files: { 'a.yaml': `${CONFIG_FILE}  bogus: 1\n` },
    errors: [
      'a.yaml:9:3: spec.bogus: unknown field "bogus" (allowed: hosts, path, source, content, template, mode',
    ],
  },
  {
    name: 'a selector clause a HostGroup match does not take',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: HostGroup',
        'metadata: { name: g }',
        'spec:',
        '  match: { matchLabels: { a: b } }',
        '  labels: { x: y }',
      ),
    },
    errors: [
      'a.yaml:5:12: spec.match.matchLabels: unknown field "matchLabels" (allowed: names, cidrs, cloudIds)',
    ],
  },
  // ---- types, enums, durations, modes
  {
    name: 'a string where a boolean belongs',
    files: { 'a.yaml': `${CONFIG_FILE}  template: "yes"\n` },
    errors: ['a.yaml:9:13: spec.template: must be a boolean (true or false), not the string "yes"'],
  },
  {
    name: 'a string where a list belongs',
    files: { 'a.yaml': ST_ROUTE.replace('  targets:\n    - name: redis-events', '  targets: redis-events') },
    errors: ['a.yaml:16:12: spec.targets: must be a list, not the string "redis-events"'],
  },
  {
    name: 'an unquoted mode 0644',
    files: { 'a.yaml': `${CONFIG_FILE}  mode: 0644\n` },
    errors: [
      'a.yaml:9:9: spec.mode: must be a string, not the number 0644; quote it: a mode is an octal string',
    ],
  },
  {
    name: 'an unquoted mode 644',
    files: { 'a.yaml': `${CONFIG_FILE}  mode: 644\n` },
    errors: ['a.yaml:9:9: spec.mode: must be a string, not the number 644; quote it'],
  },
  {
    name: 'a mode with a non-octal digit',
    files: { 'a.yaml': `${CONFIG_FILE}  mode: "0999"\n` },
    errors: ['a.yaml:9:9: spec.mode: invalid value "0999": a mode is 3 or 4 octal digits in quotes'],
  },
  {
    name: 'a duration without a unit',
    files: { 'a.yaml': `${CONFIG_FILE}  onChange: { run: reload, timeout: 30 }\n` },
    errors: [
      'a.yaml:9:37: spec.onChange.timeout: must be a string, not the number 30; a duration is a number with a unit',
    ],
  },
  {
    name: 'a duration with an unknown unit',
    files: { 'a.yaml': `${ST_ROUTE}  batch: { maxDelay: 5min }\n` },
    errors: [
      'a.yaml:18:22: spec.batch.maxDelay: invalid value "5min": a duration is a whole number and a unit',
    ],
  },
  {
    name: 'a zero probe interval',
    files: { 'a.yaml': `${PROCESS_WATCH}  probeInterval: 0s\n` },
    errors: ['a.yaml:7:18: spec.probeInterval: invalid value "0s": a duration greater than zero'],
  },
  {
    name: 'a misspelt enum value',
    files: { 'a.yaml': `${STREAM_TARGET}    mode: streams\n` },
    errors: [
      'a.yaml:9:11: spec.redis.mode: must be one of stream, list, pubsub, not the string "streams"; did you mean "stream"?',
    ],
  },
  {
    name: 'an unknown Route format',
    files: { 'a.yaml': `${ST_ROUTE}  format: xml\n` },
    errors: ['a.yaml:18:11: spec.format: must be one of json, gse, not the string "xml"'],
  },
  {
    name: 'an agent version YAML reads as a number',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: AgentVersion',
        'metadata: { name: a }',
        'spec:',
        '  version: 1.20',
        '  hosts: { names: ["*"] }',
      ),
    },
    errors: ['a.yaml:5:12: spec.version: must be a string, not the number 1.20; quote it: "1.20"'],
  },
  {
    name: 'a rollout batch over 100%',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: AgentVersion',
        'metadata: { name: a }',
        'spec:',
        '  version: 1.2.0',
        '  hosts: { names: ["*"] }',
        '  rollout: { batchSize: 150% }',
      ),
    },
    errors: ['a.yaml:7:25: spec.rollout.batchSize: invalid value "150%": a percentage is 1% to 100%'],
  },
  {
    name: 'an artifact checksum that is not SHA-256',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: AgentVersion',
        'metadata: { name: a }',
        'spec:',
        '  version: 1.2.0',
        '  hosts: { names: ["*"] }',
        '  artifact: { url: "https://dl.example.com/a.tgz", sha256: abc }',
      ),
    },
    errors: ['a.yaml:7:60: spec.artifact.sha256: invalid value "abc": must be 64 lower-case hex digits'],
  },
  {
    name: 'an artifact kept in the repo',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: AgentVersion',
        'metadata: { name: a }',
        'spec:',
        '  version: 1.2.0',
        '  hosts: { names: ["*"] }',
        `  artifact: { path: a.tgz, sha256: ${'a'.repeat(64)} }`,
      ),
    },
    errors: [
      'a.yaml:7:21: spec.artifact.path: a package in the repo is not supported (revisions are size-capped)',
    ],
  },
  {
    name: 'a Kafka broker without a port',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: StreamTarget',
        'metadata: { name: k }',
        'spec:',
        '  kafka:',
        '    brokers: [kafka-1]',
        '    topic: t',
      ),
    },
    errors: ['a.yaml:6:15: spec.kafka.brokers[0]: invalid value "kafka-1": must be host:port'],
  },
  {
    name: 'a relative ConfigFile path',
    files: { 'a.yaml': CONFIG_FILE.replace('path: /etc/motd', 'path: etc/motd') },
    errors: ['a.yaml:7:9: spec.path: invalid value "etc/motd": must be an absolute path'],
  },
  {
    name: 'an empty target list',
    files: { 'a.yaml': ROUTE.replace('  targets:\n    - name: redis-events', '  targets: []') },
    errors: ['a.yaml:7:3: spec.targets: must not be an empty list'],
  },
  // ---- exactly one of / at least one of
  {
    name: 'a StreamTarget with no destination',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: StreamTarget',
        'metadata: { name: t }',
        'spec:',
        '  spool: { maxBytes: 100 }',
      ),
    },
    errors: ['a.yaml:4:1: spec: must set exactly one of "redis", "kafka" or "file"'],
  },
  {
    name: 'a StreamTarget with two destinations',
    files: { 'a.yaml': `${STREAM_TARGET}  kafka: { brokers: ["k:9092"], topic: t }\n` },
    errors: ['a.yaml:5:1: spec: must set only one of "redis", "kafka" or "file", not "redis" and "kafka"'],
  },
  {
    name: 'a ConfigFile with both source and content',
    files: { 'a.yaml': `${CONFIG_FILE}  source: files/motd\n`, 'files/motd': 'hi' },
    errors: ['a.yaml:5:1: spec: must set only one of "source" or "content", not "source" and "content"'],
  },
  {
    name: 'a ConfigFile with neither source nor content',
    files: { 'a.yaml': CONFIG_FILE.replace('  content: hello\n', '') },
    errors: ['a.yaml:5:1: spec: must set exactly one of "source" or "content"'],
  },
  {
    name: 'a ProcessWatch that names no process',
    files: { 'a.yaml': PROCESS_WATCH.replace('process: { name: nginx }', 'process: {}') },
    errors: ['a.yaml:6:3: spec.process: must set at least one of "name", "cmdline" or "pidFile"'],
  },
  {
    name: 'a HostCheck with two probes',
    files: {
      'a.yaml': hostCheck('  disk: { mount: /var, usedPercentOver: 90 }', '  readonly: { mount: /var }'),
    },
    errors: [
      'a.yaml:4:1: spec: must set only one of "disk", "readonly", "corefiles" or "command", not "disk" and "readonly"',
    ],
  },
  {
    name: 'a HostCheck with no probe',
    files: { 'a.yaml': hostCheck() },
    errors: ['a.yaml:4:1: spec: must set exactly one of "disk", "readonly", "corefiles" or "command"'],
  },
  {
    name: 'a HostCheck threshold over 100%',
    files: { 'a.yaml': hostCheck('  disk: { mount: /var, usedPercentOver: 150 }') },
    errors: ['a.yaml:6:41: spec.disk.usedPercentOver: must be <= 100, not 150'],
  },
  {
    name: 'a HostCheck core pattern with a directory in it',
    files: { 'a.yaml': hostCheck('  corefiles: { dir: /var, pattern: "crash/core*" }') },
    errors: [
      'a.yaml:6:36: spec.corefiles.pattern: "crash/core*" is a file name pattern; put the directory in dir',
    ],
  },
  {
    name: 'a HostCheck core pattern that is not a glob',
    files: { 'a.yaml': hostCheck('  corefiles: { dir: /var/crash, pattern: "core[" }') },
    errors: ['a.yaml:6:42: spec.corefiles.pattern: "core[" has a "[" without a closing "]"'],
  },
  {
    name: 'a HostCheck command that never raises',
    files: { 'a.yaml': hostCheck('  command: { run: "true", failuresInARow: 0 }') },
    errors: ['a.yaml:6:43: spec.command.failuresInARow: must be >= 1, not 0'],
  },
  {
    name: 'a runner with both a host and a webhook',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on: { event: agent.lost }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
        '  runner: { host: ops-1, webhook: "https://ops.example.com/hook" }',
      ),
    },
    errors: ['a.yaml:8:3: spec.runner: must set only one of "host" or "webhook", not "host" and "webhook"'],
  },
  // ---- secrets
  {
    name: 'a literal Redis password',
    files: { 'a.yaml': `${STREAM_TARGET}    password: hunter2\n` },
    errors: [
      'a.yaml:9:5: spec.redis.password: literal secret "password" is not allowed in Git; use passwordFrom: {env: NAME} or {file: NAME} (names the controller allows with --secret-env / --secret-dir)',
    ],
  },
  {
    name: 'a literal token in a command environment',
    files: { 'a.yaml': `${CONFIG_FILE}  onChange:\n    run: reload\n    env: { API_TOKEN: abc }\n` },
    errors: [
      'a.yaml:11:12: spec.onChange.env.API_TOKEN: literal secret "API_TOKEN" is not allowed in Git; use passwordFrom',
    ],
  },
  {
    name: 'a literal SASL passwd instead of passwordFrom',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: StreamTarget',
        'metadata: { name: k }',
        'spec:',
        '  kafka:',
        '    brokers: ["kafka-1:9092"]',
        '    topic: t',
        '    sasl: { mechanism: plain, username: gse, passwd: x }',
      ),
    },
    errors: [
      'a.yaml:8:5: spec.kafka.sasl.passwordFrom: missing required field "passwordFrom"',
      'a.yaml:8:46: spec.kafka.sasl.passwd: literal secret "passwd" is not allowed in Git',
    ],
  },
  {
    name: 'a secret reference with both env and file',
    files: { 'a.yaml': `${STREAM_TARGET}    passwordFrom: { env: REDIS_PW, file: /etc/pw }\n` },
    errors: [
      'a.yaml:9:5: spec.redis.passwordFrom: must set only one of "env" or "file", not "env" and "file"',
    ],
  },
  {
    name: 'a secret reference given as a plain string',
    files: { 'a.yaml': `${STREAM_TARGET}    passwordFrom: REDIS_PASSWORD\n` },
    errors: ['a.yaml:9:19: spec.redis.passwordFrom: must be a mapping, not the string "REDIS_PASSWORD"'],
  },
  // ---- selectors
  {
    name: 'an empty selector',
    files: { 'a.yaml': CONFIG_FILE.replace('{ names: ["*"] }', '{}') },
    errors: [
      'a.yaml:6:3: spec.hosts: must set at least one of names, matchAgentLabels, matchLabels, matchExpressions, cidrs, cloudIds',
    ],
  },
  {
    name: 'a CIDR prefix out of range',
    files: { 'a.yaml': CONFIG_FILE.replace('{ names: ["*"] }', '{ cidrs: ["10.0.0.0/8", "10.0.0.0/33"] }') },
    errors: [
      'a.yaml:6:34: spec.hosts.cidrs[1]: invalid CIDR "10.0.0.0/33": the prefix length must be 0 to 32',
    ],
  },
  {
    name: 'a CIDR whose address is not an IP',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: HostGroup',
        'metadata: { name: g }',
        'spec:',
        '  match: { cidrs: ["10.0.300.0/16"] }',
        '  labels: { dc: gz }',
      ),
    },
    errors: [
      'a.yaml:5:20: spec.match.cidrs[0]: invalid CIDR "10.0.300.0/16": "10.0.300.0" is not an IPv4 or IPv6 address',
    ],
  },
  {
    name: 'a glob with an unclosed bracket',
    files: { 'a.yaml': CONFIG_FILE.replace('{ names: ["*"] }', '\n    names: ["web-["]') },
    errors: ['a.yaml:7:13: spec.hosts.names[0]: invalid glob "web-[": has a "[" without a closing "]"'],
  },
  {
    name: 'a negative cloud id',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: HostGroup',
        'metadata: { name: g }',
        'spec:',
        '  match: { cloudIds: [-1] }',
        '  labels: { dc: gz }',
      ),
    },
    errors: ['a.yaml:5:23: spec.match.cloudIds[0]: must be >= 0, not -1'],
  },
  {
    name: 'an In expression without values',
    files: {
      'a.yaml': CONFIG_FILE.replace(
        '{ names: ["*"] }',
        '\n    matchExpressions:\n      - { key: role, operator: In }',
      ),
    },
    errors: ['a.yaml:8:9: spec.hosts.matchExpressions[0].values: operator In needs values'],
  },
  {
    name: 'an Exists expression with values',
    files: {
      'a.yaml': CONFIG_FILE.replace(
        '{ names: ["*"] }',
        '\n    matchExpressions:\n      - { key: role, operator: Exists, values: [a] }',
      ),
    },
    errors: ['a.yaml:8:40: spec.hosts.matchExpressions[0].values: operator Exists takes no values'],
  },
  {
    name: 'an unknown expression operator',
    files: {
      'a.yaml': CONFIG_FILE.replace(
        '{ names: ["*"] }',
        '\n    matchExpressions:\n      - { key: role, operator: Equals, values: [a] }',
      ),
    },
    errors: [
      'a.yaml:8:32: spec.hosts.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist',
    ],
  },
  // ---- per-kind rules
  {
    name: 'an agent.lost Remediation without a runner',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on:',
        '    event: agent.lost',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    },
    errors: ['a.yaml:6:12: spec.runner: is required for agent.lost'],
  },
  {
    name: 'a grace on a rule that is not for agent.lost',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on:',
        '    event: process.down',
        '    grace: 2m',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    },
    errors: ['a.yaml:7:12: spec.on.grace: applies only to agent.lost'],
  },
  {
    name: 'a match key the event type does not carry',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on:',
        '    event: process.down',
        '    match: { proces: nginx }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    },
    errors: [
      'a.yaml:7:14: spec.on.match.proces: process.down events have no field "proces"; did you mean "process"? Match keys allowed: process, name, ensure, restarts',
    ],
  },
  {
    name: 'a match on a list field',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on: { event: process.up, match: { pids: 1 } }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    },
    errors: ['a.yaml:5:37: spec.on.match.pids: "pids" of process.up is an array, which match cannot compare'],
  },
  {
    name: 'a match value of the wrong type',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on: { event: process.down, match: { restarts: "3" } }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    },
    errors: ['a.yaml:5:49: spec.on.match.restarts: "restarts" of process.down is an integer, not "3"'],
  },
  {
    name: 'an unknown event type',
    files: {
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on: { event: process.dwon }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    },
    errors: [
      'a.yaml:5:16: spec.on.event: unknown event type "process.dwon"; did you mean "process.down"? Event types: process.down, process.up, process.restarted, process.restart_failed, disk.full, disk.readonly, corefile, check.failed, agent.lost, agent.start, agent.stop; a custom event is named custom.<name>',
    ],
  },
  {
    name: 'a process cmdline that is not a regular expression',
    files: { 'a.yaml': PROCESS_WATCH.replace('process: { name: nginx }', 'process: { cmdline: "java (" }') },
    errors: ['a.yaml:6:23: spec.process.cmdline: invalid regular expression: Unterminated group'],
  },
  {
    name: 'ensure running without a start command',
    files: { 'a.yaml': `${PROCESS_WATCH}  ensure: running\n` },
    errors: ['a.yaml:7:11: spec.start: is required for ensure: running'],
  },
  {
    name: 'filter operands of the wrong shape',
    files: {
      'a.yaml': `${ST_ROUTE}  filters:\n    allOf:\n      - { field: type, op: regex, value: "(" }\n      - { field: type, op: in, value: x }\n`,
    },
    errors: [
      'a.yaml:20:42: spec.filters.allOf[0].value: invalid regular expression: Unterminated group',
      'a.yaml:21:39: spec.filters.allOf[1].value: op in needs a list of values',
    ],
  },
  // ---- cross-references
  {
    name: 'a Route target naming a missing StreamTarget, with a close name',
    files: {
      'a.yaml': ST_ROUTE.replace('name: redis-events', 'name: kafka-b').replace(
        '- name: redis-events',
        '- name: kafka-a',
      ),
    },
    errors: ['a.yaml:17:13: spec.targets[0].name: no StreamTarget "kafka-a"; did you mean "kafka-b"?'],
  },
  {
    name: 'a Route target naming a missing StreamTarget',
    files: { 'a.yaml': ROUTE },
    errors: ['a.yaml:8:13: spec.targets[0].name: no StreamTarget "redis-events"'],
  },
  {
    name: 'a ProcessOverride holding a ProcessWatch that is not declared, with a close name',
    files: {
      'w.yaml': PROCESS_WATCH,
      'hold.yaml': [
        'apiVersion: gse/v1',
        'kind: ProcessOverride',
        'metadata: { name: nginx }',
        'spec:',
        '  watch: ngnix',
        '  hosts: { web-1: { ensure: running, op: delegate } }',
        '',
      ].join('\n'),
    },
    errors: [
      'hold.yaml:5:10: spec.watch: no ProcessWatch "ngnix"; did you mean "nginx"?; declare the watch, or delete this override',
    ],
  },
  {
    name: 'a ProcessOverride with an ensure no watch has',
    files: {
      'w.yaml': PROCESS_WATCH,
      'hold.yaml': [
        'apiVersion: gse/v1',
        'kind: ProcessOverride',
        'metadata: { name: nginx }',
        'spec:',
        '  watch: nginx',
        '  hosts: { web-1: { ensure: stopped } }',
        '',
      ].join('\n'),
    },
    errors: [
      'hold.yaml:6:29: spec.hosts.web-1.ensure: must be one of running, observed, not the string "stopped"',
    ],
  },
  {
    name: 'a Route naming a target twice',
    files: { 'a.yaml': `${ST_ROUTE}    - name: redis-events\n` },
    errors: ['a.yaml:18:13: spec.targets[1].name: target "redis-events" is listed twice'],
  },
  {
    name: 'a Kafka topic override on a Redis target',
    files: { 'a.yaml': `${ST_ROUTE}      topic: web\n` },
    errors: [
      'a.yaml:18:14: spec.targets[0].topic: overrides a Kafka topic, but StreamTarget "redis-events" writes to redis; use key',
    ],
  },
  {
    name: 'a duplicate name in another file',
    files: { 'a.yaml': CONFIG_FILE, 'b.yaml': `# a copy\n${CONFIG_FILE}` },
    errors: ['b.yaml:5:9: metadata.name: duplicate ConfigFile "motd"; first defined at a.yaml:4:9'],
  },
  {
    name: 'a duplicate name in the same file',
    files: { 'a.yaml': `${CONFIG_FILE}---\n${CONFIG_FILE}` },
    errors: ['a.yaml:13:9: metadata.name: duplicate ConfigFile "motd"; first defined at a.yaml:4:9'],
  },
  {
    name: 'a ConfigFile source missing from the repo',
    files: {
      'a.yaml': CONFIG_FILE.replace('content: hello', 'source: files/nginx/app.con'),
      'files/nginx/app.conf': 'x',
    },
    errors: [
      'a.yaml:8:11: spec.source: no file "files/nginx/app.con" in the repo; did you mean "files/nginx/app.conf"?',
    ],
  },
  {
    name: 'a ConfigFile source outside the repo',
    files: { 'a.yaml': CONFIG_FILE.replace('content: hello', 'source: ../etc/passwd') },
    errors: ['a.yaml:8:11: spec.source: "../etc/passwd" is outside the repo'],
  },
  // ---- several errors
  {
    name: 'an error in the second document of a file',
    files: {
      'a.yaml': `${CONFIG_FILE}---\n${CONFIG_FILE.replace('motd', 'motd2').replace('path: /etc/motd', 'path: etc/x')}`,
    },
    errors: ['a.yaml:16:9: spec.path: invalid value "etc/x": must be an absolute path'],
  },
  {
    name: 'several errors in one document',
    files: { 'a.yaml': `${CONFIG_FILE.replace('name: motd', 'name: Motd')}  mode: 644\n  bogus: 1\n` },
    errors: [
      'a.yaml:4:9: metadata.name: invalid value "Motd"',
      'a.yaml:9:9: spec.mode: must be a string, not the number 644',
      'a.yaml:10:3: spec.bogus: unknown field "bogus"',
    ],
  },
  {
    name: 'errors in several files',
    files: {
      'b.yaml': CONFIG_FILE.replace('name: motd', 'name: b').replace('path: /etc/motd', 'path: etc'),
      'a/z.yml': CONFIG_FILE.replace('kind: ConfigFile', 'kind: Nope'),
      'files/ignored.yaml': 'not: [valid',
    },
    errors: ['a/z.yml:2:7: kind: unknown kind "Nope"', 'b.yaml:7:9: spec.path: invalid value "etc"'],
  },
];

const trees: TempTree[] = [];
afterAll(async () => {
  await Promise.all(trees.map((t) => t.cleanup()));
});

function matches(actual: SpecError, expected: string): boolean {
  const m = /^([^:]+):(\d+)(?::(\d+))?: (.*)$/s.exec(expected);
  if (!m) throw new Error(`bad expectation ${expected}`);
  const [, file, line, col, rest = ''] = m;
  const text = actual.path ? `${actual.path}: ${actual.message}` : actual.message;
  return (
    actual.file === file &&
    actual.line === Number(line) &&
    (col === undefined || actual.col === Number(col)) &&
    text.startsWith(rest)
  );
}

describe('loadRevisionFromDir (invalid documents)', () => {
  it('covers at least 40 invalid documents', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('reports $name at its file:line:col', async ({ files, errors, more }) => {
    const tree = await tempTree(files);
    trees.push(tree);
    const result = await loadRevisionFromDir(tree.dir);
    expect(result.ok).toBe(false);
    const actual = result.ok ? [] : result.errors;
    const shown = actual.map(
      (e) => `${e.file}:${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`,
    );
    if (more) expect(actual.length, shown.join('\n')).toBeGreaterThanOrEqual(errors.length);
    else expect(actual.length, shown.join('\n')).toBe(errors.length);
    errors.forEach((expected, i) => {
      expect(matches(actual[i] as SpecError, expected), `expected ${expected}\n     got ${shown[i]}`).toBe(
        true,
      );
    });
  });
});
