import { describe, expect, it } from 'vitest';
import { WakeSignal } from '../../src/outbox/wake-signal';

const timed = async (work: Promise<void>) => {
  const started = performance.now();
  await work;
  return performance.now() - started;
};

describe("the relay's wake-up signal", () => {
  it('sleeps the full time when nobody signals', async () => {
    expect(await timed(new WakeSignal().sleep(100))).toBeGreaterThanOrEqual(95);
  });

  it('ends a sleep early when signalled during it', async () => {
    const wake = new WakeSignal();
    setTimeout(() => wake.signal(), 20);
    expect(await timed(wake.sleep(5000))).toBeLessThan(1000);
  });

  it('remembers a signal sent while nobody slept (a commit during a batch): the next sleep ends at once', async () => {
    const wake = new WakeSignal();
    wake.signal();
    expect(await timed(wake.sleep(5000))).toBeLessThan(50);
    // …and only that one: the following sleep waits again.
    expect(await timed(wake.sleep(100))).toBeGreaterThanOrEqual(95);
  });

  it('forgets signals older than the last look for work', async () => {
    const wake = new WakeSignal();
    wake.signal();
    wake.clear();
    expect(await timed(wake.sleep(100))).toBeGreaterThanOrEqual(95);
  });
});
