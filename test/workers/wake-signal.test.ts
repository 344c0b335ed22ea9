import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WakeSignal } from '../../src/outbox/wake-signal';

// Fake timers: the clock moves only when the test moves it, so "ended early" and "slept the full
// time" are facts about the signal, not about how busy the machine is.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Starts a sleep and reports whether it has ended. */
function sleeping(wake: WakeSignal, ms: number) {
  let ended = false;
  void wake.sleep(ms).then(() => {
    ended = true;
  });
  return { ended: () => ended };
}

/** Lets every settled promise run its callbacks, moving the clock by `ms` (default: not at all). */
const advance = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

describe("the relay's wake-up signal", () => {
  it('sleeps the full time when nobody signals', async () => {
    const sleep = sleeping(new WakeSignal(), 100);
    await advance(99);
    expect(sleep.ended()).toBe(false);
    await advance(1);
    expect(sleep.ended()).toBe(true);
  });

  it('ends a sleep early when signalled during it', async () => {
    const wake = new WakeSignal();
    const sleep = sleeping(wake, 5000);
    await advance(20);
    expect(sleep.ended()).toBe(false);
    wake.signal();
    await advance();
    expect(sleep.ended()).toBe(true);
  });

  it('remembers a signal sent while nobody slept (a commit during a batch): the next sleep ends at once', async () => {
    const wake = new WakeSignal();
    wake.signal();
    const first = sleeping(wake, 5000);
    await advance();
    expect(first.ended()).toBe(true);
    // …and only that one: the following sleep waits again.
    const second = sleeping(wake, 100);
    await advance(99);
    expect(second.ended()).toBe(false);
    await advance(1);
    expect(second.ended()).toBe(true);
  });

  it('forgets signals older than the last look for work', async () => {
    const wake = new WakeSignal();
    wake.signal();
    wake.clear();
    const sleep = sleeping(wake, 100);
    await advance(99);
    expect(sleep.ended()).toBe(false);
    await advance(1);
    expect(sleep.ended()).toBe(true);
  });
});
