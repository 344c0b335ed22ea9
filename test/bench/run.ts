/**
 * `npm run bench`: a fresh database and Redis prefix, the shop as a real child process, each selected
 * scenario against it next to its raw ceiling measured in the same run, a table on stdout, and
 * bench-results/<timestamp>.json (+ latest.json). Missed targets are reported, never an exit code:
 * this is a measurement. See test/bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { jwtTokens } from '../../src/auth/tokens';
import { nodeCommand } from '../support/private-redis';
import { type LocalRedisCluster, startRedisCluster } from '../support/redis-cluster';
import { type BenchOptions, parseCli, USAGE } from './cli';
import { type CapturedPlacement, capturePlacement } from './raw/placement-capture';
import { findScenarios } from './registry';
import { renderReport, type ScenarioOutcome } from './report';
import type { BenchContext, PerOperation, Phase, Scenario } from './scenario';
import { createBenchDatabase } from './support/bench-database';
import { createHttpClient, type HttpClient } from './support/http-client';
import { type PhaseMeasurement, PhaseMeter } from './support/phase-meter';
import { deleteRedisKeys } from './support/redis-keys';
import { Seeder } from './support/seed';
import { REPO_ROOT, startShopProcess } from './support/shop-process';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const note = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main() {
  const parsed = parseCli(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const scenarios = findScenarios(
    parsed.redisCluster && parsed.scenarios.length === 0 ? ['placement', 'checkout'] : parsed.scenarios,
  );
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(REPO_ROOT, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const single = await runBench(parsed, scenarios, stamp, resultsDir, undefined);
  let outcomes = single.outcomes;
  let clusterRun: Awaited<ReturnType<typeof runBench>> | undefined;
  if (parsed.redisCluster) {
    const cluster = await startRedisCluster({ masters: 3 });
    try {
      clusterRun = await runBench(parsed, scenarios, `${stamp}-cluster`, resultsDir, cluster);
    } finally {
      await cluster.stop();
    }
    outcomes = [
      ...single.outcomes.map((o) => ({ ...o, name: `${o.name} (one Redis)` })),
      ...clusterRun.outcomes.map((o) => ({ ...o, name: `${o.name} (3-master cluster)` })),
    ];
  }
  const { serverEnv, serverExitCode } = single;

  const finishedAt = new Date();
  const report = renderReport(outcomes);
  process.stdout.write(`\n${report}\n`);
  if (clusterRun?.commandsPerNode)
    process.stdout.write(
      `Redis commands per cluster node (ORDER_SHARDS=${CLUSTER_SHARDS}): ${clusterRun.commandsPerNode
        .map((n) => `${n.port}: ${n.commands.toLocaleString('en-US')}`)
        .join(', ')}\n`,
    );
  const json = JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      options: parsed,
      environment: environment(),
      serverEnv: { ...serverEnv, JWT_SECRET: '(random per run)' },
      serverExitCode,
      scenarios: outcomes,
      ...(clusterRun
        ? {
            cluster: {
              commandsPerNode: clusterRun.commandsPerNode,
              serverExitCode: clusterRun.serverExitCode,
            },
          }
        : {}),
    },
    null,
    2,
  );
  writeFileSync(join(resultsDir, `${stamp}.json`), json);
  writeFileSync(join(resultsDir, 'latest.json'), json);
  note(`results: bench-results/${stamp}.json (and latest.json)`);
}

const CLUSTER_SHARDS = 6;

/** One bench run against the single Redis, or against a local cluster when given one. */
async function runBench(
  parsed: BenchOptions,
  scenarios: Scenario[],
  stamp: string,
  resultsDir: string,
  cluster: LocalRedisCluster | undefined,
) {
  const scenarioEnv = mergedServerEnv(scenarios);
  const database = await createBenchDatabase();
  const redis = cluster ? clusterCounters(cluster) : new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const before = cluster ? await commandsPerNode(cluster) : undefined;
  const redisPrefix = `bench${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const jwtSecret = randomBytes(32).toString('hex');
  const serverEnv = {
    NODE_ENV: 'development',
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    JWT_SECRET: jwtSecret,
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'false',
    ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodesEnv, ORDER_SHARDS: String(CLUSTER_SHARDS) } : {}),
    ...scenarioEnv,
    ...parsed.serverEnv,
  };
  const clients: HttpClient[] = [];
  let shop: Awaited<ReturnType<typeof startShopProcess>> | undefined;
  const closeClients = () => Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  const cleanup = async () => {
    await closeClients();
    await shop?.stop().catch(() => undefined);
    await database.drop().catch((err) => note(`could not drop ${database.name}: ${String(err)}`));
    if (!cluster)
      await deleteRedisKeys(redis as Redis, redisPrefix).catch((err) =>
        note(`could not delete the Redis keys under ${redisPrefix}: ${String(err)}`),
      );
    redis.disconnect();
  };
  process.once('SIGINT', () => {
    note('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  const outcomes: ScenarioOutcome[] = [];
  let serverExitCode: number | null = null;
  try {
    const logFile = join(resultsDir, `${stamp}-server.log`);
    note(`database ${database.name}, Redis prefix ${redisPrefix}; starting the shop (log: ${logFile})`);
    shop = await startShopProcess({ env: serverEnv, logFile, workerProcesses: parsed.workerProcesses });
    note(`shop ready at ${shop.baseUrl} (pids ${shop.pids.join(', ')})`);

    const meter = new PhaseMeter(database.pool, database.name, redis);
    const seed = new Seeder(database.pool, jwtTokens(jwtSecret, 6 * 3600), redisPrefix, shop.baseUrl);
    let capture: Promise<CapturedPlacement> | undefined;
    const bench: BenchContext = {
      durationMs: parsed.durationS * 1000,
      warmupMs: parsed.warmupS * 1000,
      shop: { baseUrl: shop.baseUrl, pids: shop.pids, env: serverEnv },
      database,
      redis: { url: REDIS_URL, prefix: redisPrefix, client: redis as Redis },
      seed,
      http: (connections) => {
        const client = createHttpClient(shop!.baseUrl, connections);
        clients.push(client);
        return client;
      },
      phase: (label, load, run, options = {}) =>
        measurePhase(
          meter,
          bench,
          label,
          load,
          run,
          options.serverPid === undefined ? shop!.pids : [options.serverPid],
        ),
      placementCapture: () =>
        (capture ??= (async () => {
          const [buyer] = await seed.buyers(1);
          const [product] = await seed.products(1, { stock: 1_000_000 });
          const captured = await capturePlacement(serverEnv, buyer!.id, product!);
          note(`captured the placement transaction: ${captured.statements.length} statements`);
          return captured;
        })()),
      note,
    };

    for (const scenario of scenarios) {
      const outcome = await runScenario(scenario, bench, parsed);
      const death = shop.died();
      if (death) {
        // (Code 0 without a signal is the shop's own graceful shutdown: someone sent it SIGTERM/SIGINT.)
        outcome.error = `the shop stopped during this scenario: ${death}; its figures are void`;
        note(outcome.error);
        outcomes.push(outcome);
        break;
      }
      outcomes.push(outcome);
    }
    await closeClients();
    serverExitCode = await shop.stop();
    if (serverExitCode !== 0) note(`the shop exited with ${serverExitCode} on SIGTERM (see ${logFile})`);
  } finally {
    await cleanup();
  }
  const after = cluster ? await commandsPerNode(cluster) : undefined;
  return {
    outcomes,
    serverEnv,
    serverExitCode,
    commandsPerNode: after?.map((n, i) => ({ port: n.port, commands: n.commands - before![i]!.commands })),
  };
}

/** The cluster's nodes seen as one Redis by the phase meter: INFO commandstats summed over them. */
function clusterCounters(cluster: LocalRedisCluster) {
  return {
    info: async (_section: 'commandstats') => {
      const calls = new Map<string, number>();
      for (const node of cluster.nodes) {
        const info = String(await nodeCommand(node.port, ['INFO', 'commandstats']));
        for (const [, command, n] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
          calls.set(command!, (calls.get(command!) ?? 0) + Number(n));
      }
      return [...calls].map(([command, n]) => `cmdstat_${command}:calls=${n}`).join('\n');
    },
    disconnect: () => undefined,
  };
}

async function commandsPerNode(cluster: LocalRedisCluster) {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      const info = String(await nodeCommand(node.port, ['INFO', 'stats']));
      return { port: node.port, commands: Number(info.match(/total_commands_processed:(\d+)/)?.[1] ?? 0) };
    }),
  );
}

async function runScenario(
  scenario: Scenario,
  bench: BenchContext,
  options: BenchOptions,
): Promise<ScenarioOutcome> {
  const concurrency = options.concurrency ?? scenario.defaultConcurrency;
  note(`scenario ${scenario.name} @${concurrency}`);
  try {
    const report = await scenario.run(bench, concurrency);
    return { name: scenario.name, concurrency, ...report };
  } catch (error) {
    note(`scenario ${scenario.name} failed: ${(error as Error).stack ?? String(error)}`);
    return { name: scenario.name, concurrency, rows: [], phases: [], error: String(error) };
  }
}

async function measurePhase(
  meter: PhaseMeter,
  bench: BenchContext,
  label: string,
  load: { concurrency: number; warmupMs?: number; durationMs?: number; units?: number },
  run: Parameters<BenchContext['phase']>[2],
  serverPids: number[],
): Promise<Phase> {
  const warmupMs = load.warmupMs ?? bench.warmupMs;
  const durationMs = load.durationMs ?? bench.durationMs;
  const span = load.units ? `${load.units.toLocaleString('en-US')} units` : `${durationMs / 1000} s`;
  note(`  ${label}: ${warmupMs / 1000} s warm-up + ${span}`);
  let close: (() => Promise<PhaseMeasurement>) | undefined;
  let measured: PhaseMeasurement | undefined;
  const result = await run({
    concurrency: load.concurrency,
    durationMs,
    warmupMs,
    onMeasureStart: () => {
      close = meter.open(serverPids);
    },
    // Closed while the phase's own connections and processes still exist, so their CPU counts.
    onMeasureEnd: async () => {
      measured = await (close ?? meter.open(serverPids))();
    },
  });
  if (!measured) throw new Error(`phase '${label}' did not report the end of its measured window`);
  const { cpu, work } = measured;
  note(
    `    ${Math.round(result.throughput)}/s, p50 ${result.latency.p50.toFixed(1)} ms, p95 ${result.latency.p95.toFixed(1)} ms; ` +
      `cores: loadgen ${cpu.loadgen}, server ${cpu.server} (api ${cpu.api}), postgres ${cpu.postgres}, redis ${cpu.redis}, other ${cpu.other}`,
  );
  return { label, load: result, cpu, work, perOperation: perOperation(result, cpu, work) };
}

function perOperation(load: Phase['load'], cpu: Phase['cpu'], work: Phase['work']): PerOperation {
  const per = (n: number) => (load.completed > 0 ? Math.round((n / load.completed) * 100) / 100 : null);
  const msPerOp = (cores: number) =>
    load.throughput > 0 ? Math.round((cores / load.throughput) * 1000 * 1000) / 1000 : null;
  const { loadgen, server, postgres, redis } = cpu;
  const byProcess = { loadgen, server, postgres, redis };
  return {
    cpuMs: msPerOp(loadgen + server + postgres + redis),
    cpuMsByProcess:
      load.throughput > 0
        ? (Object.fromEntries(
            Object.entries(byProcess).map(([k, v]) => [k, msPerOp(v)]),
          ) as PerOperation['cpuMsByProcess'])
        : null,
    dbTx: per(work.dbCommits + work.dbRollbacks),
    redisCommands: per(work.redisCommands),
    redisByCommand: Object.fromEntries(
      Object.entries(work.redisByCommand).map(([command, calls]) => [command, per(calls) ?? 0]),
    ),
  };
}

/** One server serves every selected scenario: their environment wishes must agree. */
function mergedServerEnv(scenarios: Scenario[]): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const s of scenarios) {
    for (const [key, value] of Object.entries(s.serverEnv ?? {})) {
      if (key in merged && merged[key] !== value) {
        throw new Error(`scenarios disagree on ${key} (${merged[key]} vs ${value}); run them separately`);
      }
      merged[key] = value;
    }
  }
  return merged;
}

function environment() {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAverage: os.loadavg(),
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
  };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
