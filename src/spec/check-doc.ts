/**
 * Checks on one schema-valid resource that its schema cannot express (selectors, filter operands,
 * regular expressions, event types and match keys, agent.lost runners). Paths are those of the YAML document.
 */
import { triggerIssues } from './event-types.js';
import type { FieldPath } from './field-path.js';
import type { Issue } from './issue.js';
import { globProblem, selectorIssues } from './selector-checks.js';
import type { FilterCondition, HostCheckSpec, Resource, RouteSpec } from './types.js';

function regexProblem(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (err) {
    // V8 says "Invalid regular expression: /(/: Unterminated group"; keep the reason only.
    return (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
  }
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function conditionProblem(c: FilterCondition): string | undefined {
  const v = c.value;
  switch (c.op) {
    case 'eq':
    case 'ne':
      return isScalar(v) ? undefined : `op ${c.op} needs a value (a string, number or boolean)`;
    case 'in':
      return Array.isArray(v) ? undefined : 'op in needs a list of values';
    case 'gt':
    case 'lt':
      return typeof v === 'number' ? undefined : `op ${c.op} needs a number`;
    case 'exists':
      return v === undefined || typeof v === 'boolean'
        ? undefined
        : 'op exists takes no value (or true / false)';
    case 'regex': {
      if (typeof v !== 'string') return 'op regex needs a regular expression (a string)';
      const problem = regexProblem(v);
      return problem ? `invalid regular expression: ${problem}` : undefined;
    }
  }
}

function routeIssues(spec: RouteSpec): Issue[] {
  const issues: Issue[] = [];
  for (const group of ['allOf', 'anyOf'] as const) {
    spec.filters?.[group]?.forEach((c, i) => {
      const problem = conditionProblem(c);
      const path: FieldPath = ['spec', 'filters', group, i, c.value === undefined ? 'op' : 'value'];
      if (problem) issues.push({ path, message: problem });
    });
  }
  const seen = new Set<string>();
  spec.targets.forEach((t, i) => {
    if (seen.has(t.name))
      issues.push({ path: ['spec', 'targets', i, 'name'], message: `target "${t.name}" is listed twice` });
    seen.add(t.name);
  });
  return issues;
}

/** Mode bits a ConfigFile may set only with `allowSpecialModes: true`, and what each is called. */
const SPECIAL_MODE_BITS: ReadonlyArray<[number, string]> = [
  [0o4000, 'setuid'],
  [0o2000, 'setgid'],
  [0o1000, 'sticky'],
  [0o0002, 'world-writable'],
];

/**
 * setuid/setgid/sticky and world-writable files are how a repo edit becomes root on a host (or lets any
 * local user rewrite a managed file): refused unless the spec opts in explicitly.
 */
function modeIssues(mode: number, allowed: boolean): Issue[] {
  if (allowed) return [];
  const bits = SPECIAL_MODE_BITS.filter(([bit]) => (mode & bit) !== 0).map(([, name]) => name);
  if (bits.length === 0) return [];
  const octal = mode.toString(8).padStart(4, '0');
  return [
    {
      path: ['spec', 'mode'],
      message: `"${octal}" is ${bits.join(' and ')}; such modes are refused unless the ConfigFile sets allowSpecialModes: true (say so on purpose), or use a mode such as "0644" / "0755"`,
    },
  ];
}

/** A core file pattern is a glob over names in one directory: no separator. */
function hostCheckIssues(spec: HostCheckSpec): Issue[] {
  const pattern = spec.corefiles?.pattern;
  if (pattern === undefined) return [];
  const problem = pattern.includes('/')
    ? 'is a file name pattern; put the directory in dir'
    : globProblem(pattern);
  return problem ? [{ path: ['spec', 'corefiles', 'pattern'], message: `"${pattern}" ${problem}` }] : [];
}

/** Every problem in one resource that needs no other document. */
export function resourceIssues(r: Resource): Issue[] {
  const issues: Issue[] = [];
  if (r.kind === 'HostGroup') issues.push(...selectorIssues(r.spec.match, ['spec', 'match']));
  else if ('hosts' in r.spec && r.spec.hosts) issues.push(...selectorIssues(r.spec.hosts, ['spec', 'hosts']));
  switch (r.kind) {
    case 'ConfigFile':
      issues.push(...modeIssues(r.spec.mode, r.spec.allowSpecialModes === true));
      break;
    case 'Route':
      issues.push(...routeIssues(r.spec));
      break;
    case 'Remediation':
      issues.push(...triggerIssues(r.spec.on));
      if (r.spec.on.event === 'agent.lost' && !r.spec.runner) {
        issues.push({
          path: ['spec', 'runner'],
          at: ['spec', 'on', 'event'],
          message:
            'is required for agent.lost: the lost host cannot run the script; set runner.host or runner.webhook',
        });
      }
      if (r.spec.on.event !== 'agent.lost' && r.spec.graceMs !== undefined) {
        issues.push({
          path: ['spec', 'on', 'grace'],
          message: `applies only to agent.lost (this rule is for ${r.spec.on.event}); remove it`,
        });
      }
      break;
    case 'ProcessWatch': {
      const cmdline = r.spec.process.cmdline;
      const problem = cmdline === undefined ? undefined : regexProblem(cmdline);
      if (problem)
        issues.push({
          path: ['spec', 'process', 'cmdline'],
          message: `invalid regular expression: ${problem}`,
        });
      if (r.spec.ensure === 'running' && r.spec.start === undefined) {
        issues.push({
          path: ['spec', 'start'],
          at: ['spec', 'ensure'],
          message: 'is required for ensure: running (the command that starts the process)',
        });
      }
      break;
    }
    case 'HostCheck':
      issues.push(...hostCheckIssues(r.spec));
      break;
    default:
      break;
  }
  return issues;
}
