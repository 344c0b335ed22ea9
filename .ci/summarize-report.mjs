// Reads vitest's JSON report and vitest's exit code; prints why the run failed (if it did) and, as
// the last line, "N passed, M failed". Exits non-zero when vitest did, when the report is missing or
// unreadable, when no test ran (zero tests or zero files: e.g. global setup threw), or when any test
// or test file failed. Usage: node .ci/summarize-report.mjs <report.json> <vitest exit code>
import { readFileSync } from 'node:fs';

const [reportPath = '.vitest-report.json', exitCodeArg = ''] = process.argv.slice(2);
const vitestExit = Number.parseInt(exitCodeArg, 10);
const problems = [];
let passed = 0;
let failed = 0;

if (!Number.isInteger(vitestExit)) problems.push(`vitest's exit code is unknown ('${exitCodeArg}')`);
else if (vitestExit !== 0) problems.push(`vitest exited with ${vitestExit}`);

let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (error) {
  problems.push(`no readable report at ${reportPath}: ${error.message}`);
}

if (report) {
  const count = (name) => (Number.isInteger(report[name]) ? report[name] : 0);
  passed = count('numPassedTests');
  failed = count('numFailedTests');
  // A file that failed outside any test (an import or a hook threw) has no failed test to count.
  const files = Array.isArray(report.testResults) ? report.testResults : [];
  const brokenFiles = files.filter(
    (file) =>
      file.status === 'failed' &&
      !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
  );
  failed += brokenFiles.length;
  for (const file of brokenFiles) problems.push(`${file.name} failed outside its tests`);
  if (count('numTotalTestSuites') === 0 || files.length === 0) problems.push('no test file ran');
  if (count('numTotalTests') === 0) problems.push('no test ran');
  if (report.success !== true) problems.push('the report says the run did not succeed');
}

// Whatever else went wrong counts as a failure, so the last line never reads as a clean run.
if (problems.length > 0 && failed === 0) failed = 1;
for (const problem of problems) console.log(`CI: ${problem}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(problems.length > 0 || failed > 0 ? 1 : 0);
