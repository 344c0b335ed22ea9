import { defineConfig } from 'vitest/config';

const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // A `.only` left in a test file would silently skip the rest of it: CI refuses it.
    allowOnly: !inCi,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
