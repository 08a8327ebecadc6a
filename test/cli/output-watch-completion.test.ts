/** Tables that fit the terminal, watch frames, and the completion script run by a real bash. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { completionScript } from '../../src/cli/completion.js';
import { fitWidths, renderTable } from '../../src/cli/output.js';
import { watchFrame } from '../../src/cli/watch.js';

const run = promisify(execFile);

describe('tables fit the terminal', () => {
  it.each([
    { natural: [5, 10, 40], max: undefined, want: [5, 10, 40] },
    { natural: [5, 10, 40], max: 100, want: [5, 10, 40] },
    { natural: [5, 10, 40], max: 40, want: [5, 10, 21] },
    { natural: [30, 30], max: 42, want: [20, 20] },
    { natural: [9, 9, 9], max: 10, want: [8, 8, 8] },
  ])('$natural in $max columns -> $want', ({ natural, max, want }) => {
    expect(fitWidths(natural, max)).toEqual(want);
  });

  it('cuts long cells with an ellipsis and keeps every line within the width', () => {
    const text = renderTable(
      ['host', 'state', 'message'],
      [
        ['web-1', 'Synced', 'x'.repeat(100)],
        ['db-1', 'OutOfSync', 'short'],
      ],
      40,
    );
    const lines = text.split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40);
    expect(lines[1]).toMatch(/^web-1 {2}Synced {5}x+…$/);
    expect(lines[2]).toBe('db-1   OutOfSync  short');
  });
});

describe('watch frames', () => {
  const at = new Date('2026-12-05T10:00:00.000Z');
  it('a pipe gets a view only when it changed', () => {
    const opts = { tty: false, title: 'gsectl status', at, intervalMs: 2000 };
    expect(watchFrame('a', undefined, opts)).toBe('a\n');
    expect(watchFrame('a', 'a', opts)).toBeUndefined();
    expect(watchFrame('b', 'a', opts)).toBe('\nb\n');
  });
  it('a terminal is redrawn every round under a header', () => {
    const frame = watchFrame('a', 'a', { tty: true, title: 'gsectl get hosts -w', at, intervalMs: 2000 });
    expect(frame).toBe('\x1b[H\x1b[2JEvery 2s: gsectl get hosts -w    2026-12-05T10:00:00.000Z\n\na\n');
  });
});

describe('bash completion', () => {
  let dir: string;
  let script: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-compl-'));
    script = join(dir, 'gsectl.bash');
    await writeFile(script, completionScript('bash', COMMANDS));
    await writeFile(join(dir, 'fleet.yaml'), '');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** COMPREPLY for the words typed so far (the last one is being completed). */
  async function complete(...words: string[]): Promise<string[]> {
    const arr = words.map((w) => `'${w}'`).join(' ');
    const { stdout } = await run(
      'bash',
      [
        '-c',
        `source '${script}'; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _gsectl; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { cwd: dir },
    );
    return stdout.split('\n').filter((l) => l !== '');
  }

  it('completes commands, first words, flags, -o formats and files', async () => {
    expect(await complete('gsectl', 'ro')).toEqual(['rollout']);
    expect(await complete('gsectl', 'get', 'ex')).toEqual(['executions']);
    expect(await complete('gsectl', 'rollout', '')).toEqual(['status', 'pause', 'resume', 'undo']);
    expect(await complete('gsectl', 'get', 'hosts', '--wa')).toEqual(['--watch']);
    expect(await complete('gsectl', 'status', '-o', 'y')).toEqual(['yaml']);
    expect(await complete('gsectl', 'schema', 'Host')).toEqual(['HostGroup', 'HostCheck']);
    expect(await complete('gsectl', 'validate', 'fle')).toEqual(['fleet.yaml']);
  });

  it('the zsh script is the same function behind bashcompinit', () => {
    const zsh = completionScript('zsh', COMMANDS);
    expect(zsh.startsWith('#compdef gsectl\n')).toBe(true);
    expect(zsh).toContain('autoload -U +X bashcompinit && bashcompinit');
    expect(zsh).toContain(completionScript('bash', COMMANDS).split('\n').slice(1).join('\n'));
  });
});
