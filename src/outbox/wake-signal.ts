/**
 * A sleep that a signal ends early. A signal that arrives while nobody sleeps is remembered and ends
 * the next sleep at once: a wake-up sent while the relay was busy publishing a batch (about rows that
 * batch did not see) must not be lost until the next poll.
 */
export class WakeSignal {
  private pending = false;
  private wakeUp: (() => void) | undefined;

  signal(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** Forgets earlier signals: call just before looking for work, which covers what they announced. */
  clear(): void {
    this.pending = false;
  }

  sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}
