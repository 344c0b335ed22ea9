import { withTimeout } from '../async';
import type { Logger } from '../logger';

export type Dependency = 'database' | 'redis';

/** The monitor's ping, named so it is recognisable in statement logs and counts. */
export const DATABASE_PROBE = 'select 1 as dependency_probe';

const PROBE_TIMEOUT_MS = 900;

/**
 * Probes in a row that may run out of time before a dependency counts as down. A refused or failed
 * probe counts at once; one slow answer is what a busy 2-core box gives now and then, and refusing
 * every command for a second because of it turns load into errors.
 */
export const SLOW_PROBES_BEFORE_DOWN = 2;

class ProbeTimedOut extends Error {}

/**
 * Pings PostgreSQL and Redis every second, so a command can be refused with 503 *before* it is
 * enqueued when the database cannot carry it out (rather than queued and half-answered).
 */
export class DependencyMonitor {
  private readonly up: Record<Dependency, boolean> = { database: true, redis: true };
  private readonly slowInARow: Record<Dependency, number> = { database: 0, redis: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly probes: Record<Dependency, () => Promise<unknown>>,
    private readonly log: Logger,
    private readonly everyMs = 1000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs one probe now (readiness asks for a fresh answer, not the last ping's). */
  probe(dependency: Dependency): Promise<unknown> {
    return this.probes[dependency]();
  }

  isUp(dependency: Dependency): boolean {
    return this.up[dependency];
  }

  async check(): Promise<void> {
    await Promise.all(
      (Object.keys(this.probes) as Dependency[]).map(async (dependency) => {
        const wasUp = this.up[dependency];
        try {
          await withTimeout(this.probes[dependency](), PROBE_TIMEOUT_MS, new ProbeTimedOut());
          this.slowInARow[dependency] = 0;
          this.up[dependency] = true;
        } catch (err) {
          const slow = err instanceof ProbeTimedOut;
          this.slowInARow[dependency] = slow ? this.slowInARow[dependency] + 1 : 0;
          if (!slow || this.slowInARow[dependency] >= SLOW_PROBES_BEFORE_DOWN) this.up[dependency] = false;
        }
        if (wasUp !== this.up[dependency]) {
          this.log[this.up[dependency] ? 'info' : 'warn'](
            { dependency, up: this.up[dependency] },
            'dependency changed',
          );
        }
      }),
    );
  }
}
