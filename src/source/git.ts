/** simple-git instances configured for unattended use by the source. */
import { type SimpleGit, simpleGit } from 'simple-git';

export interface GitRunOptions {
  /** Kill a git process silent for this long. */
  timeoutMs: number;
  /** Extra environment for every command of this instance (e.g. GIT_INDEX_FILE). */
  env?: Record<string, string>;
  /** `key=value` settings passed with `-c` to every command. */
  config?: string[];
}

/** A simple-git bound to `baseDir` that never prompts, speaks English and treats any non-zero exit as an error. */
export function openGit(baseDir: string, options: GitRunOptions): SimpleGit {
  return simpleGit({
    baseDir,
    timeout: { block: options.timeoutMs },
    config: options.config ?? [],
    // simple-git's default ignores a non-zero exit with an empty stderr (`git verify-commit` on an unsigned
    // commit does exactly that); a failed command must fail.
    errors(error, result) {
      if (error) return error;
      if (result.exitCode === 0) return undefined;
      const output = Buffer.concat([...result.stdErr, ...result.stdOut])
        .toString('utf8')
        .trim();
      return Buffer.from(output || `git exited with code ${result.exitCode}`);
    },
  }).env({
    ...processEnv(),
    // A daemon has no terminal: a credential prompt would hang the fetch until the timeout.
    GIT_TERMINAL_PROMPT: '0',
    // Error classification reads git's messages.
    LC_ALL: 'C',
    ...options.env,
  });
}

/** The line of a git error that says what went wrong (`fatal:`/`error:`), else its first line, for messages. */
export function gitErrorDetail(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return lines.find((line) => /^(fatal|error):/.test(line)) ?? lines[0] ?? 'unknown git error';
}

/**
 * What git may inherit from our environment. An allowlist, not `process.env`: simple-git refuses to run with
 * variables that let the environment run programs (EDITOR, GIT_ASKPASS, GIT_SSH_COMMAND, ...), and a daemon's
 * git should not depend on whatever shell started it. SSH keys come from `~/.ssh` or the agent; HTTPS
 * credentials from the URL or git's credential config.
 */
const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'XDG_CONFIG_HOME',
  'SSH_AUTH_SOCK',
  'GNUPGHOME',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'GIT_SSL_CAINFO',
];

function processEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}
