import { describe, expect, it } from 'vitest';
import { DependencyMonitor, SLOW_PROBES_BEFORE_DOWN } from '../../src/health/dependency-monitor';
import { createLogger } from '../../src/logger';

// The monitor's policy on its own: which probe answers make a dependency count as down. Its real
// probes against a stopped PostgreSQL and Redis are exercised in test/e2e/degraded.test.ts.
const log = createLogger({ logLevel: 'silent' }, { role: 'test' });
const answers = () => Promise.resolve(1);
const neverAnswers = () => new Promise<never>(() => {});
const refused = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));

describe('DependencyMonitor', () => {
  it('counts a refused probe as down at once, and an answer as up again', async () => {
    let database: () => Promise<unknown> = refused;
    const monitor = new DependencyMonitor({ database: () => database(), redis: answers }, log);
    await monitor.check();
    expect([monitor.isUp('database'), monitor.isUp('redis')]).toEqual([false, true]);
    database = answers;
    await monitor.check();
    expect(monitor.isUp('database')).toBe(true);
  });

  it(`counts a probe that runs out of time as down only after ${SLOW_PROBES_BEFORE_DOWN} in a row`, async () => {
    let database: () => Promise<unknown> = neverAnswers;
    const monitor = new DependencyMonitor({ database: () => database(), redis: answers }, log);
    for (let slow = 1; slow < SLOW_PROBES_BEFORE_DOWN; slow++) {
      await monitor.check();
      expect(monitor.isUp('database')).toBe(true);
    }
    database = answers; // an answer in between starts the count again
    await monitor.check();
    database = neverAnswers;
    for (let slow = 1; slow < SLOW_PROBES_BEFORE_DOWN; slow++) await monitor.check();
    expect(monitor.isUp('database')).toBe(true);
    await monitor.check();
    expect(monitor.isUp('database')).toBe(false);
  });
});
