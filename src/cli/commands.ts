/**
 * The gsectl command table: names, flags and help, with each command's code loaded only when it runs.
 */
import type { ParseArgsConfig } from 'node:util';
import { KINDS } from '../spec/types.js';
import type { CommandResult } from './output.js';

export type Flags = NonNullable<ParseArgsConfig['options']>;

/** The parsed input of one command. */
export interface CommandInput {
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
  /** Everything after a bare `--` (for `exec`). */
  rest: string[];
}

export interface CommandModule {
  run(input: CommandInput): Promise<CommandResult>;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: Flags;
  /** Text after the flags in `--help`. */
  details?: string;
  /** The words the first argument takes (shell completion). */
  words?: readonly string[];
  load(): Promise<CommandModule>;
}

const output: Flags = { output: { type: 'string', short: 'o', default: 'table' } };
/** `-w/--watch [--interval 2s]`: listings that redraw (src/cli/watch.ts). */
const watch: Flags = { watch: { type: 'boolean', short: 'w' }, interval: { type: 'string' } };
const WATCH_DETAILS =
  '-w/--watch runs it again every --interval (default 2s): on a terminal the screen is redrawn, otherwise a new view is printed when it changed; Ctrl-C stops it.';
const remote: Flags = {
  ...output,
  server: { type: 'string', short: 's' },
  token: { type: 'string', short: 't' },
  ca: { type: 'string' },
};
const REMOTE_DETAILS =
  'The controller is --server URL or GSE_SERVER (default http://127.0.0.1:7070); the API token is --token or GSE_TOKEN; for https:// the CA that signed the controller certificate is --ca FILE or GSE_CA.';

const SELECTOR_DETAILS =
  "SELECTOR: comma-separated terms that must ALL hold (Kubernetes label-selector style): role=web, role!=web, 'role in (web,db)', 'role notin (web,db)', canary (label present), !canary (absent), name=web-* or web-* (host name glob), 'name in (web-*,db-1)', cidr=10.0.0.0/8, cloud=0, * (every host). role=web,role=db picks hosts with both, so none; for either write 'role in (web,db)'. Quote sets and ! in the shell.";

export const COMMANDS: CommandSpec[] = [
  {
    name: 'validate',
    summary: 'Load and check a spec tree offline; print every error',
    usage: 'gsectl validate [DIR] [--secret-env A,B] [--secret-dir D]',
    flags: { ...output, 'secret-env': { type: 'string' }, 'secret-dir': { type: 'string' } },
    details:
      'DIR defaults to the current directory. Exit 0 when valid, 1 on any error. With --secret-env/--secret-dir (the values the controller runs with), secret references are checked as the controller checks them; without them they are not checked.',
    load: () => import('./commands/validate.js'),
  },
  {
    name: 'plan',
    summary: 'Show the manifest each host would get from a spec tree',
    usage: 'gsectl plan [DIR] --inventory FILE [-o table|json|yaml]',
    flags: { ...output, inventory: { type: 'string', short: 'i' } },
    details:
      'The inventory is a YAML file `hosts: [{name, ips, cloudId, labels}]` (see examples/inventory.yaml).',
    load: () => import('./commands/plan.js'),
  },
  {
    name: 'schema',
    words: KINDS,
    summary: 'Print the JSON Schema of a kind (or list the kinds)',
    usage: 'gsectl schema [KIND] | gsectl schema --markdown',
    flags: { markdown: { type: 'boolean' } },
    details:
      '--markdown prints the whole spec reference (docs/spec-reference.md is made with it: npm run docs).',
    load: () => import('./commands/schema.js'),
  },
  {
    name: 'serve',
    summary: 'Run the controller (API, dashboard, agent endpoint) on a Git repo',
    usage:
      'gsectl serve [--config FILE] --repo URL_OR_PATH [--branch B] [--path P] [--listen HOST:PORT] [--state-dir D] [--redis URL] [--bootstrap-token T] [--admin-token T] [--tls-cert FILE --tls-key FILE] [--artifact-dir D] [--host-retention DURATION] [--callback-secret-env NAME] [--gse-write-back [--gse-write-repo URL]] [--replica-id ID] [--lease DURATION]',
    flags: {
      config: { type: 'string' },
      repo: { type: 'string' },
      branch: { type: 'string' },
      path: { type: 'string' },
      listen: { type: 'string' },
      'state-dir': { type: 'string' },
      redis: { type: 'string' },
      'bootstrap-token': { type: 'string' },
      'admin-token': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'fetch-interval-ms': { type: 'string' },
      'manual-approve': { type: 'boolean' },
      'max-handshakes': { type: 'string' },
      'admission-rate': { type: 'string' },
      'verify-signatures': { type: 'boolean' },
      'metrics-token': { type: 'string' },
      'gnupg-home': { type: 'string' },
      'allowed-signers': { type: 'string' },
      'log-level': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'secret-env': { type: 'string' },
      'callback-secret-env': { type: 'string' },
      'secret-dir': { type: 'string' },
      'max-spec-file-bytes': { type: 'string' },
      'max-revision-bytes': { type: 'string' },
      'artifact-dir': { type: 'string' },
      'gse-write-back': { type: 'boolean' },
      'gse-write-repo': { type: 'string' },
      'host-retention': { type: 'string' },
      'replica-id': { type: 'string' },
      lease: { type: 'string' },
    },
    details:
      'With --tls-cert FILE --tls-key FILE (PEM) the API, dashboard and agent endpoint are served over HTTPS/WSS (agents then use wss:// with --ca). Secrets come from flags or env: GSE_BOOTSTRAP_TOKEN (agents enroll with it), GSE_ADMIN_TOKEN (an admin API token), GSE_WEBHOOK_SECRET, GSE_REDIS_URL, GSE_METRICS_TOKEN (--metrics-token: /metrics then needs it as a bearer token; without it /metrics is public). Specs may reference as secrets only the env variables named by --secret-env A,B (GSE_SECRET_ENV) and files directly in --secret-dir D (GSE_SECRET_DIR). --max-spec-file-bytes (default 1048576) and --max-revision-bytes (default 67108864) cap what a revision may hold. --verify-signatures checks every commit since the applied revision against the keys in --gnupg-home DIR (GPG) or --allowed-signers FILE (SSH). --max-handshakes N caps agent handshakes in progress (default 256). --artifact-dir D (GSE_ARTIFACT_DIR) serves the files directly in D (gse-agent-<version>.tgz from gsectl artifact build) at /api/v1/artifacts/NAME to agents (HTTP Basic agentId:credential) and API tokens, with range requests; without it no artifacts are served. --host-retention DURATION (e.g. 30d): hosts not seen for that long leave the host list, status and GSE views (their drift and executions stay; a returning agent is listed again); default off. --callback-secret-env NAME: the environment variable NAME holds the secret that signs exec result callbacks (gsectl exec --callback; X-GSE-Signature); without it callbacks are refused. Notifications (kind Notification) and callbacks are queued on disk in <state-dir>/notify and retried until their receiver answers 2xx. --config FILE (GSE_CONFIG): the same settings as YAML, keys the long flag names (`listen: 0.0.0.0:7070`, `secret-env: [A, B]`); a flag on the command line wins; secrets (tokens, a Redis URL with a password) are refused there and come from the environment; errors name file:line:col (packaging/controller.yaml is an example). With --redis URL several controllers share one Redis as replicas (docs/OPERATIONS.md): --replica-id ID (GSE_REPLICA_ID; unique and stable per replica; default <hostname>-<port>) names this one, and --lease DURATION (default 5s, at least 300ms) is the leader lease: one leader follows Git and decides rollouts and agent.lost remediations, and a dead leader is replaced within it. --gse-write-back (GSE_WRITE_BACK=1) commits GSE data-route writes (add_route, add_streamto...; operator role) to the followed branch, authored by the caller, validated like any commit and answered once applied; it pushes to --gse-write-repo URL (GSE_WRITE_REPO; default --repo), so the controller needs push rights there (docs/GSE-MAPPING.md); off, those calls answer 404. --admission-rate N admits at most N agent handshakes per second and tells the rest (503, Retry-After) when to come back, so a reconnect storm is paced (default 2000; 0 turns pacing off). Defaults: --listen 127.0.0.1:7070, --state-dir ./.gse-state, --branch main.',
    load: () => import('./commands/serve.js'),
  },
  {
    name: 'artifact',
    words: ['build'],
    summary: 'Pack the built agent into gse-agent-<V>.tgz and print its path, version and sha256',
    usage: 'gsectl artifact build [--version V] [--out DIR] [-o table|json|yaml]',
    flags: { ...output, version: { type: 'string' }, out: { type: 'string' } },
    details:
      'Packs dist/agent, the dist files it imports, the npm packages it needs, bin/gse-agent and dist/VERSION (what the agent reports; --version overrides the checkout version, so two versions can be built from one checkout). Run npm run build first. -o json prints {"path","version","sha256"}.',
    load: () => import('./commands/artifact.js'),
  },
  {
    name: 'status',
    summary: 'Applied revision, last rejected revision and its errors, hosts by sync state, targets',
    usage: 'gsectl status [-o table|json|yaml] [-w [--interval 2s]]',
    flags: { ...remote, ...watch },
    details: `${WATCH_DETAILS} ${REMOTE_DETAILS}`,
    load: () => import('./commands/status.js'),
  },
  {
    name: 'get',
    words: ['hosts', 'resources', 'drift', 'executions', 'revisions', 'agents', 'routes', 'targets', 'audit'],
    summary: 'List hosts, resources, drift, executions, revisions, agents, routes, targets or audit',
    usage:
      'gsectl get hosts|resources|drift|executions|revisions|agents|routes|targets|audit [--host ID] [--resource KEY] [--remediation NAME] [--since ISO|DURATION] [--actor NAME] [--state S] [--hosts SELECTOR | -l SELECTOR] [--limit N] [-w [--interval 2s]]',
    flags: {
      ...remote,
      ...watch,
      host: { type: 'string' },
      hosts: { type: 'string', short: 'H' },
      resource: { type: 'string' },
      remediation: { type: 'string' },
      since: { type: 'string' },
      state: { type: 'string' },
      selector: { type: 'string', short: 'l' },
      limit: { type: 'string' },
      actor: { type: 'string' },
    },
    details: `get hosts --hosts SELECTOR (or -l) lists the hosts the selector picks. get executions --remediation NAME lists that Remediation's runs and its decisions not to run (status skipped: cooldown, budget, concurrency, dryRun). ${WATCH_DETAILS} ${SELECTOR_DETAILS} ${REMOTE_DETAILS}`,
    load: () => import('./commands/get.js'),
  },
  {
    name: 'describe',
    words: ['host', 'execution'],
    summary:
      'One host (facts, manifest, status, drift, executions), or one execution with its remediation chain',
    usage: 'gsectl describe host ID | gsectl describe execution TASK-ID',
    flags: remote,
    details: REMOTE_DETAILS,
    load: () => import('./commands/describe.js'),
  },
  {
    name: 'diff',
    summary: 'What differs on hosts now, with content diffs; or preview an uncommitted tree (--tree DIR)',
    usage: 'gsectl diff [--host ID] | gsectl diff --tree DIR [-o table|json|yaml]',
    flags: { ...remote, host: { type: 'string' }, tree: { type: 'string' } },
    details: `Without --tree: every resource not Synced, per host, with a unified diff of the desired file against what its agent last reported (text files others may read, up to 64 KiB; binary and private files show sizes and sha256), mode and owner changes, and processes' state. --tree DIR validates DIR locally (errors as file:line:col, exit 1) and previews it against the live hosts (POST /api/v1/preview, operator): per host the resources it would add, change or remove, with diffs, and the hosts each selector would newly pick or drop; nothing is committed or applied. Exit 0 when nothing differs, 1 when something does. ${REMOTE_DETAILS}`,
    load: () => import('./commands/diff.js'),
  },
  {
    name: 'sync',
    summary:
      'Fetch Git and reconcile now; --wait shows converged/total until done; --dry-run changes nothing',
    usage: 'gsectl sync [--host ID | --hosts SELECTOR] [--wait] [--timeout T] [--dry-run]',
    flags: {
      ...remote,
      host: { type: 'string' },
      hosts: { type: 'string', short: 'H' },
      wait: { type: 'boolean', short: 'w' },
      timeout: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
    details: `A manual sync re-sends the full manifest, so agents re-apply every resource whatever its selfHeal policy. --dry-run asks each connected agent picked what applying the manifest it should hold would change (files read, nothing written, no onChange run; Git is not fetched) and prints it with diffs; --timeout (default 30s) bounds the wait for answers; exit 1 when a host would change or did not answer. --hosts SELECTOR syncs the connected hosts it picks. ${SELECTOR_DETAILS} ${REMOTE_DETAILS}`,
    load: () => import('./commands/sync.js'),
  },
  {
    name: 'exec',
    summary: 'Run a command on the hosts a selector picks; results stream as they come',
    usage: 'gsectl exec --hosts SELECTOR [--timeout T] [--run-as USER[:GROUP]] [--callback URL] -- COMMAND',
    flags: {
      ...remote,
      hosts: { type: 'string', short: 'H' },
      timeout: { type: 'string' },
      'run-as': { type: 'string' },
      callback: { type: 'string' },
    },
    details: `--callback URL: once every targeted host has finished or is offline, the controller POSTs the task's results to URL, once ({id, type: "task.finished", taskId, hosts: [{host, status, exitCode, stdout, stderr, ...}]}), signed with its callback secret (header X-GSE-Signature: sha256=<hex HMAC-SHA256 of the body>) and retried until a 2xx; refused when the controller runs without --callback-secret-env. ${SELECTOR_DETAILS} ${REMOTE_DETAILS}`,
    load: () => import('./commands/exec.js'),
  },
  {
    name: 'token',
    words: ['create', 'list', 'revoke'],
    summary: 'Create, list or revoke named API tokens (admin)',
    usage:
      'gsectl token create --name NAME --role viewer|operator|admin [--app-code CODE] | gsectl token list | gsectl token revoke NAME',
    flags: { ...remote, name: { type: 'string' }, role: { type: 'string' }, 'app-code': { type: 'string' } },
    details: `create prints the new token once on stdout (only its sha256 is kept); revoke takes effect on the next request. --app-code CODE: BlueKing tools may also authenticate with bk_app_code=CODE and bk_app_secret=<the token> (in the body, the query or X-Bkapi-Authorization). ${REMOTE_DETAILS}`,
    load: () => import('./commands/token.js'),
  },
  {
    name: 'agents',
    words: ['approve', 'revoke', 'reset'],
    summary: 'Approve, revoke or reset (clear the credential of) an enrolled agent',
    usage: 'gsectl agents approve|revoke|reset AGENT_ID',
    flags: remote,
    details: `reset: the next bootstrap-token enrollment of that id gets a new credential (a wiped host); its live session is closed. ${REMOTE_DETAILS}`,
    load: () => import('./commands/agents.js'),
  },
  {
    name: 'hosts',
    words: ['delete'],
    summary: 'Delete a host: revoke its agent, drop it from the views, keep its history',
    usage: 'gsectl hosts delete NAME [--force]',
    flags: { ...remote, force: { type: 'boolean' } },
    details: `A connected host is refused unless --force: deleting it closes its agent's session. The agent's credential is revoked (the same as gsectl agents revoke), so it cannot reconnect until an operator runs gsectl agents approve NAME and it enrolls again. Its drift and executions stay (gsectl get drift|executions --host NAME). ${REMOTE_DETAILS}`,
    load: () => import('./commands/hosts.js'),
  },
  {
    name: 'rollout',
    words: ['status', 'pause', 'resume', 'undo'],
    summary: 'Show, pause, resume or undo an AgentVersion rollout',
    usage: 'gsectl rollout status|pause|resume|undo NAME [-o table|json|yaml]',
    flags: remote,
    details: `resume: a paused rollout goes on with the next attempt (failed hosts try again); in manual mode it starts the next batch. undo: every host returns to the version before, in one batch. ${REMOTE_DETAILS}`,
    load: () => import('./commands/rollout.js'),
  },
  {
    name: 'completion',
    summary: 'Print a shell completion script (bash or zsh)',
    usage: 'gsectl completion bash|zsh',
    words: ['bash', 'zsh'],
    flags: {},
    details:
      'bash: source <(gsectl completion bash), or save it as /etc/bash_completion.d/gsectl. zsh: source <(gsectl completion zsh) in ~/.zshrc, or save it as _gsectl in a directory of $fpath. It completes commands, their flags, their first argument (get hosts|drift|..., rollout status|pause|...), -o formats and file names.',
    load: () => import('./commands/completion.js'),
  },
];
