/** A command to run on a host, as the planner hands it to the agent (durations already in ms). */
export interface RunSpec {
  run: string;
  interpreter?: string;
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  runAs?: string;
}
