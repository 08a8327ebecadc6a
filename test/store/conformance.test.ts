/** One conformance suite, run against every Store implementation (backends.ts lists them). */
import { describe } from 'vitest';
import { BACKENDS, type Backend, useBackend } from './backends.js';
import { agentSuite, revisionSuite } from './suites/agents-revisions.js';
import { batchSuite } from './suites/batches.js';
import { auditSuite, driftSuite, executionSuite } from './suites/history.js';
import { hostSuite, resourceStatusSuite } from './suites/hosts.js';
import { pagingSuite } from './suites/paging.js';
import { persistenceSuite, validationSuite } from './suites/persistence.js';
import { rolloutSuite } from './suites/rollouts.js';
import { retentionSuite, stateSuite } from './suites/state-retention.js';
import { tokenSuite } from './suites/tokens.js';

describe.each<[string, () => Backend]>([...BACKENDS])('Store (%s)', (_name, makeBackend) => {
  const ctx = useBackend(makeBackend());
  agentSuite(ctx);
  revisionSuite(ctx);
  hostSuite(ctx);
  resourceStatusSuite(ctx);
  batchSuite(ctx);
  driftSuite(ctx);
  executionSuite(ctx);
  auditSuite(ctx);
  tokenSuite(ctx);
  stateSuite(ctx);
  rolloutSuite(ctx);
  retentionSuite(ctx);
  pagingSuite(ctx);
  persistenceSuite(ctx);
  validationSuite(ctx);
});
