/** How `gsectl describe execution` prints one execution record: event -> rule -> decision -> output. */

/** An execution record as the API serves it (the fields printed here). */
export interface ExecutionView {
  id: string;
  hostId: string;
  reason: string;
  command: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  stdoutTail: string;
  stderrTail: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  requestedBy?: string;
  remediation?: {
    name: string;
    itemHash: string;
    revision: string;
    decision: string;
    event: { type: string; time: string; resource?: string; fields: Record<string, unknown> };
    detail?: string;
  };
}

/** The record as indented text, the remediation chain first when there is one. */
export function executionChain(x: ExecutionView): string {
  const lines = [`Execution ${x.id} on ${x.hostId}`];
  const r = x.remediation;
  if (r) {
    const fields = Object.entries(r.event.fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    lines.push(
      `  Event:    ${r.event.type} at ${r.event.time}${r.event.resource ? ` (${r.event.resource})` : ''}${fields ? ` ${fields}` : ''}`,
      `  Rule:     Remediation/${r.name} (item ${r.itemHash.slice(0, 12)}, revision ${r.revision.slice(0, 12)})`,
      `  Decision: ${r.decision}${r.detail ? `: ${r.detail}` : ''}`,
    );
  } else {
    lines.push(`  Reason:   ${x.reason}${x.requestedBy ? ` (by ${x.requestedBy})` : ''}`);
  }
  const exit = x.exitCode === null ? (x.signal ? `signal ${x.signal}` : '-') : String(x.exitCode);
  lines.push(
    `  Status:   ${x.status} (exit ${exit}${x.durationMs === undefined ? '' : `, ${x.durationMs} ms`}), started ${x.startedAt}`,
  );
  if (x.stdoutTail) lines.push('  Stdout:', ...indent(x.stdoutTail));
  if (x.stderrTail) lines.push('  Stderr:', ...indent(x.stderrTail));
  return lines.join('\n');
}

function indent(text: string): string[] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`);
}
