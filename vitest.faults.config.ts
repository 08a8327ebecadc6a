import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: the fault suite (real processes, outages, storms), apart from `npm test`. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One file at a time: each one loads both cores on its own.
    fileParallelism: false,
    reporters: ['default'],
  },
});
