/** `gsectl serve --config FILE`: the flags as YAML, with spec-style errors, secrets refused, flags winning. */
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { mergeConfig, parseServeConfig, ServeConfigError } from '../../src/cli/serve-config.js';

const FLAGS = COMMANDS.find((c) => c.name === 'serve')?.flags ?? {};
const FILE = '/etc/gse/controller.yaml';

async function errorsOf(text: string): Promise<string[]> {
  try {
    await parseServeConfig(FILE, text, FLAGS);
  } catch (err) {
    if (err instanceof ServeConfigError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('serve config file', () => {
  it('turns every value into what the flag parser gives', async () => {
    const values = await parseServeConfig(
      FILE,
      'repo: /srv/fleet.git\nlisten: 0.0.0.0:7070\nmax-handshakes: 64\nmanual-approve: true\nsecret-env: [A, B]\n',
      FLAGS,
    );
    expect(values).toEqual({
      repo: '/srv/fleet.git',
      listen: '0.0.0.0:7070',
      'max-handshakes': '64',
      'manual-approve': true,
      'secret-env': 'A,B',
    });
  });

  it('an empty file sets nothing', async () => {
    expect(await parseServeConfig(FILE, '# nothing yet\n', FLAGS)).toEqual({});
  });

  it('names file:line:col and suggests the flag an unknown key misspells', async () => {
    const lines = await errorsOf('repo: /srv/fleet.git\nlisen: 0.0.0.0:7070\n');
    expect(lines).toEqual([`${FILE}:2:1: lisen: unknown field "lisen"; did you mean "listen"?`]);
  });

  it('refuses a value of the wrong type where it is', async () => {
    const lines = await errorsOf('repo: /srv/fleet.git\nmanual-approve: yes please\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\/etc\/gse\/controller\.yaml:2:17: manual-approve: /);
    expect(lines[0]).toMatch(/boolean/);
  });

  it('refuses secrets and says which environment variable carries each', async () => {
    const lines = await errorsOf(
      'repo: /srv/fleet.git\nadmin-token: hunter2hunter2\nredis: redis://:pw@10.0.0.5:6379\n',
    );
    expect(lines).toEqual([
      `${FILE}:2:1: admin-token: secrets do not go in the config file; remove it and set GSE_ADMIN_TOKEN in the controller's environment (systemd: EnvironmentFile= with mode 0600)`,
      `${FILE}:3:8: redis: the URL holds a password; remove it from the file and set GSE_REDIS_URL in the controller environment`,
    ]);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('reports a YAML syntax error at its place', async () => {
    const lines = await errorsOf('repo: /srv/fleet.git\nlisten: [0.0.0.0:7070\n');
    expect(lines[0]).toMatch(/^\/etc\/gse\/controller\.yaml:\d+:\d+: YAML: /);
  });

  it('refuses a list where a mapping belongs', async () => {
    expect(await errorsOf('- repo\n- listen\n')).toEqual([
      `${FILE}:1:1: expected a mapping of flag names to values, e.g. \`listen: 0.0.0.0:7070\``,
    ]);
  });

  it('a flag on the command line wins over the file', () => {
    expect(
      mergeConfig({ listen: '0.0.0.0:7070', repo: '/a' }, { listen: '127.0.0.1:9000', branch: undefined }),
    ).toEqual({ listen: '127.0.0.1:9000', repo: '/a' });
  });
});
