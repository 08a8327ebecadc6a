/**
 * `gsectl exec --hosts SELECTOR [--timeout T] [--callback URL] -- COMMAND`: run a script on many hosts,
 * results as they come; with --callback the controller also POSTs the task's results, signed, once it ends.
 */
import { ApiClient, clientOptions } from '../client.js';
import type { CommandInput } from '../commands.js';
import { parseDurationMs } from '../duration.js';
import type { CommandResult } from '../output.js';
import { ProgressLine } from '../progress.js';

interface ResultLine {
  type: 'started' | 'offline' | 'result' | 'summary';
  hostId?: string;
  status?: string;
  exitCode?: number | null;
  durationMs?: number;
  stdoutTail?: string;
  stderrTail?: string;
  hosts?: number | string[];
  taskId?: string;
  pending?: string[];
  offline?: string[];
}

/**
 * Streams each host's result to stdout as it arrives, naming each targeted host that is not connected as
 * `offline (not run)`; exit 1 when any host failed, did not answer or was offline.
 */
export async function run(input: CommandInput): Promise<CommandResult> {
  const selector = input.values.hosts;
  const script = input.rest.join(' ');
  if (typeof selector !== 'string' || script === '') {
    return {
      exitCode: 2,
      stderr: [
        'gsectl exec: usage: gsectl exec --hosts SELECTOR [--timeout T] [--run-as USER] [--callback URL] -- COMMAND',
      ],
    };
  }
  const timeoutText = typeof input.values.timeout === 'string' ? input.values.timeout : undefined;
  const timeoutMs = timeoutText === undefined ? undefined : parseDurationMs(timeoutText);
  if (timeoutText !== undefined && timeoutMs === undefined)
    return { exitCode: 2, stderr: [`gsectl exec: --timeout ${timeoutText}: expected e.g. 30s`] };
  const json = input.values.output === 'json' || input.values.output === 'yaml';
  const lines: ResultLine[] = [];
  let bad = 0;
  // On a terminal, a bar of answered hosts under the streamed results; in a pipe the result lines say it.
  const progress = !json && process.stderr.isTTY ? new ProgressLine(process.stderr) : undefined;
  let total = 0;
  let answered = 0;
  // In a pipe, the lines of one chunk from the controller go out in one write (1,000 hosts: one write per
  // chunk, not three per host); on a terminal each goes at once, above the progress bar.
  let out = '';
  const print = (text: string) => {
    if (progress) process.stdout.write(text);
    else out += text;
  };
  const flush = () => {
    if (out) process.stdout.write(out);
    out = '';
  };
  try {
    await new ApiClient(clientOptions(input.values)).stream(
      'exec',
      {
        hosts: selector,
        script,
        timeoutMs,
        ...(typeof input.values['run-as'] === 'string' ? { runAs: input.values['run-as'] } : {}),
        ...(typeof input.values.callback === 'string' ? { callback: input.values.callback } : {}),
      },
      (raw) => {
        const line = raw as ResultLine;
        lines.push(line);
        if (line.type === 'result' && line.status !== 'succeeded') bad++;
        if (json) return;
        progress?.clear();
        if (line.type === 'started') total = (line.hosts as string[]).length;
        if (line.type === 'offline' || line.type === 'result') answered++;
        if (line.type === 'started')
          print(`task ${line.taskId}: sent to ${(line.hosts as string[]).length} host(s)\n`);
        if (line.type === 'offline') print(`--- ${line.hostId}  offline (not run)\n`);
        if (line.type === 'result') {
          print(
            `--- ${line.hostId}  ${line.status}  exit=${line.exitCode ?? '-'}  ${line.durationMs ?? '-'}ms\n`,
          );
          if (line.stdoutTail)
            print(line.stdoutTail.endsWith('\n') ? line.stdoutTail : `${line.stdoutTail}\n`);
          if (line.stderrTail)
            print(`[stderr] ${line.stderrTail.endsWith('\n') ? line.stderrTail : `${line.stderrTail}\n`}`);
        }
        if (line.type === 'summary') progress?.end();
        else progress?.update(answered, total, 'answered');
      },
      flush,
    );
  } finally {
    flush();
  }
  progress?.clear();
  const summary = lines.find((l) => l.type === 'summary');
  const pending = summary?.pending ?? [];
  // A controller older than the offline lines sends none: nothing is offline then.
  const offline = summary?.offline ?? lines.filter((l) => l.type === 'offline').map((l) => l.hostId ?? '');
  return {
    exitCode: bad > 0 || pending.length > 0 || offline.length > 0 ? 1 : 0,
    data: lines,
    table: () =>
      `${summary?.hosts ?? 0} host(s): ${(summary?.hosts as number) - bad - pending.length} succeeded, ${bad} failed${pending.length ? `, no answer from ${pending.join(', ')}` : ''}${offline.length ? `; offline (not run): ${offline.join(', ')}` : ''}`,
  };
}
