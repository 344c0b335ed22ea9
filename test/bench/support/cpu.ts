import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux this runs on. */
const TICKS_PER_S = 100;

export type CpuGroup = 'loadgen' | 'server' | 'postgres' | 'redis' | 'other';
/**
 * Cores busy on average over a phase, per group ("other" = everything else on the machine). `api`: the
 * part of "server" spent by the first watched process alone (the shop's API process, or a raw-ceiling
 * server); the rest of "server" is its worker processes.
 */
export type CpuShare = Record<CpuGroup, number> & { api: number; machine: number; cores: number };

interface ProcessTicks {
  comm: string;
  ppid: number;
  ticks: number;
}

export interface CpuSnapshot {
  at: number;
  machineBusy: number;
  processes: Map<number, ProcessTicks>;
  /** PostgreSQL backends serving other databases (other people's tests on the shared box). */
  foreignBackends: Set<number>;
}

/**
 * Where the CPU goes during a phase, from /proc (no pidstat on the box): the bench process itself
 * (load generator and in-process raw clients), the process tree of the server under test,
 * PostgreSQL (the bench database's backends and the server's own background processes), Redis, and
 * the rest of the shared machine, including other databases' backends.
 */
export class CpuMeter {
  private serverPids: number[] = [];

  constructor(private readonly foreignBackends: () => Promise<Set<number>> = async () => new Set()) {}

  /** The roots of the process trees counted as "server" (the shop's, or a raw-ceiling server). */
  watchServer(pids: number[]): void {
    this.serverPids = pids;
  }

  async snapshot(): Promise<CpuSnapshot> {
    const foreignBackends = await this.foreignBackends().catch(() => new Set<number>());
    return {
      at: performance.now(),
      machineBusy: machineBusyTicks(),
      processes: readProcesses(),
      foreignBackends,
    };
  }

  share(from: CpuSnapshot, to: CpuSnapshot): CpuShare {
    const seconds = (to.at - from.at) / 1000;
    const cores = (ticks: number) => round(ticks / TICKS_PER_S / seconds);
    const serverTree = descendants(to.processes, this.serverPids);
    const foreign = new Set([...from.foreignBackends, ...to.foreignBackends]);
    const sums: Record<CpuGroup, number> = { loadgen: 0, server: 0, postgres: 0, redis: 0, other: 0 };
    let api = 0;
    for (const [pid, now] of to.processes) {
      const delta = now.ticks - (from.processes.get(pid)?.ticks ?? 0);
      if (delta <= 0) continue;
      sums[foreign.has(pid) ? 'other' : groupOf(pid, now.comm, serverTree)] += delta;
      if (pid === this.serverPids[0]) api = delta;
    }
    const machine = to.machineBusy - from.machineBusy;
    // Processes that ended during the phase are in the machine total only: they land in "other".
    sums.other = Math.max(0, machine - sums.loadgen - sums.server - sums.postgres - sums.redis);
    return {
      loadgen: cores(sums.loadgen),
      server: cores(sums.server),
      api: cores(api),
      postgres: cores(sums.postgres),
      redis: cores(sums.redis),
      other: cores(sums.other),
      machine: cores(machine),
      cores: navigatorCores(),
    };
  }
}

function groupOf(pid: number, comm: string, serverTree: Set<number>): CpuGroup {
  if (pid === process.pid) return 'loadgen';
  if (serverTree.has(pid)) return 'server';
  if (comm === 'postgres') return 'postgres';
  if (comm.startsWith('redis-server')) return 'redis';
  return 'other';
}

function descendants(processes: Map<number, ProcessTicks>, roots: number[]): Set<number> {
  const tree = new Set<number>(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of processes) {
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

function readProcesses(): Map<number, ProcessTicks> {
  const processes = new Map<number, ProcessTicks>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid … utime stime …": comm may hold spaces and parentheses.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      processes.set(Number(entry), {
        comm,
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // The process ended while we looked.
    }
  }
  return processes;
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

function navigatorCores(): number {
  return globalThis.navigator?.hardwareConcurrency ?? 1;
}

const round = (n: number) => Math.round(n * 100) / 100;
