import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// .ci/run ends with `node .ci/summarize-report.mjs <report> <vitest exit code>`: its exit code is CI's
// verdict on the tests and its last line is "N passed, M failed".
const SCRIPT = join(import.meta.dirname, '../../.ci/summarize-report.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ci-summary-'));

function summarize(report: unknown, vitestExit: number | string) {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  if (report !== undefined) writeFileSync(path, typeof report === 'string' ? report : JSON.stringify(report));
  const run = spawnSync(process.execPath, [SCRIPT, path, String(vitestExit)], { encoding: 'utf8' });
  const lines = run.stdout.trim().split('\n');
  return { exit: run.status, last: lines.at(-1), output: run.stdout };
}

const file = (name: string, status: string, tests: string[]) => ({
  name,
  status,
  assertionResults: tests.map((s) => ({ status: s })),
});
const passing = {
  numTotalTestSuites: 2,
  numTotalTests: 3,
  numPassedTests: 3,
  numFailedTests: 0,
  success: true,
  testResults: [file('a.test.ts', 'passed', ['passed', 'passed']), file('b.test.ts', 'passed', ['passed'])],
};

describe('the CI verdict', () => {
  it('passes a run where vitest succeeded and every test passed', () => {
    expect(summarize(passing, 0)).toMatchObject({ exit: 0, last: '3 passed, 0 failed' });
  });

  it('fails whenever vitest failed, even if the report looks clean', () => {
    expect(summarize(passing, 1)).toMatchObject({ exit: 1, last: '3 passed, 1 failed' });
    expect(summarize(passing, '')).toMatchObject({ exit: 1 });
  });

  it('counts failed tests', () => {
    const report = {
      ...passing,
      numPassedTests: 1,
      numFailedTests: 2,
      success: false,
      testResults: [file('a.test.ts', 'failed', ['failed', 'failed', 'passed'])],
    };
    expect(summarize(report, 1)).toMatchObject({ exit: 1, last: '1 passed, 2 failed' });
  });

  it('counts a file that failed outside its tests (an import or a hook threw)', () => {
    const report = {
      ...passing,
      success: false,
      testResults: [...passing.testResults, file('c.test.ts', 'failed', [])],
    };
    const verdict = summarize(report, 1);
    expect(verdict).toMatchObject({ exit: 1, last: '3 passed, 1 failed' });
    expect(verdict.output).toContain('c.test.ts failed outside its tests');
  });

  it('fails when no test ran (global setup threw: zero files, zero tests), whatever the exit code', () => {
    const empty = {
      numTotalTestSuites: 0,
      numTotalTests: 0,
      numPassedTests: 0,
      numFailedTests: 0,
      success: false,
      testResults: [],
    };
    for (const exit of [0, 1]) {
      const verdict = summarize(empty, exit);
      expect(verdict).toMatchObject({ exit: 1, last: '0 passed, 1 failed' });
      expect(verdict.output).toContain('no test ran');
    }
  });

  it('fails without a readable report', () => {
    expect(summarize(undefined, 0)).toMatchObject({ exit: 1, last: '0 passed, 1 failed' });
    expect(summarize('{"numPassedTests": 3', 0)).toMatchObject({ exit: 1, last: '0 passed, 1 failed' });
  });
});
