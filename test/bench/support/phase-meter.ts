import type pg from 'pg';
import { type CommandStatsSource, countersBetween, readCounters, type WorkCounters } from './counters';
import { CpuMeter, type CpuShare } from './cpu';

export interface PhaseMeasurement {
  cpu: CpuShare;
  work: WorkCounters;
}

/** CPU per process group and database/Redis work, between the opening and closing of a window. */
export class PhaseMeter {
  private readonly cpu: CpuMeter;

  constructor(
    private readonly pool: pg.Pool,
    private readonly database: string,
    private readonly redis: CommandStatsSource,
  ) {
    this.cpu = new CpuMeter(async () => {
      const { rows } = await pool.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname is not null and datname <> $1`,
        [database],
      );
      return new Set(rows.map((r) => r.pid));
    });
  }

  /** Starts a window; the returned function closes it. `serverPids` root the "server" process trees. */
  open(serverPids: number[]): () => Promise<PhaseMeasurement> {
    this.cpu.watchServer(serverPids);
    const opened = Promise.all([this.cpu.snapshot(), readCounters(this.pool, this.database, this.redis)]);
    return async () => {
      const [cpuFrom, workFrom] = await opened;
      const [cpuTo, workTo] = await Promise.all([
        this.cpu.snapshot(),
        readCounters(this.pool, this.database, this.redis),
      ]);
      return { cpu: this.cpu.share(cpuFrom, cpuTo), work: countersBetween(workFrom, workTo) };
    };
  }
}
