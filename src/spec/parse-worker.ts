/** Worker-thread entry: loads the spec files it is sent (see worker-pool.ts) and answers with their results. */
import { parentPort } from 'node:worker_threads';
import { loadSpecFile } from './load-file.js';
import { usePlainEnvForGood } from './plain-env.js';
import type { WorkerReady, WorkerReply, WorkerRequest } from './worker-pool.js';

// This thread only parses: nothing here sets a variable a child process or native code must see.
usePlainEnvForGood();

parentPort?.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { id: request.id, results: request.jobs.map((j) => loadSpecFile(j.path, j.content, j.hash)) };
  } catch (err) {
    reply = { id: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort?.postMessage(reply);
});

// Static imports are loaded by now: the calling thread may stop parsing for this one (worker-pool.ts).
parentPort?.postMessage({ ready: true } satisfies WorkerReady);
