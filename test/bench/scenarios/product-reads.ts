import { resolve } from 'node:path';
import type { Phase, ResultRow, Scenario } from '../scenario';
import { createHttpClient } from '../support/http-client';
import { runClosedLoop } from '../support/load';
import { latencyRows, outcomeSummary, rateOf, round } from '../support/rows';
import { startRawServer } from '../support/shop-process';
import { pick } from '../support/shop-requests';

const PRODUCTS = 300;
const RAW_SERVER = resolve(import.meta.dirname, '../raw/redis-get-server.ts');

/** Shop and bare-server phases alternate this many times (shop first, then the bare server first, …). */
const ROUNDS = 3;

/**
 * Anonymous GET /api/v1/products/{id} over a few hundred products, all cached (SPEC §9: ≥ 15,000
 * req/s; reads p95 < 50 ms at 100 clients), next to a bare node:http server doing one Redis GET of
 * the same cached entries, loaded by the same client at the same concurrency. The two alternate in
 * ROUNDS pairs of phases that share `--duration` (ABBA…), so the box drifting during the scenario
 * weighs on both sides of the ratio; the rates are each side's answers over its measured seconds.
 */
export const productReads: Scenario = {
  name: 'product-reads',
  summary: `GET /products/{id} over ${PRODUCTS} cached products vs node:http + one Redis GET, alternating`,
  defaultConcurrency: 100,
  run: async (bench, concurrency) => {
    bench.note(`seeding ${PRODUCTS} products`);
    const ids = await bench.seed.products(PRODUCTS, { stock: 1000 });
    const http = bench.http(concurrency);
    // Entries live PRODUCT_CACHE_TTL_S: stored again before each bare-server phase, so it finds every one.
    const warmCache = async () => {
      for (const id of ids) {
        const res = await http.request('GET', `/api/v1/products/${id}`);
        if (res.status !== 200) throw new Error(`GET /products/${id} answered ${res.status}`);
      }
    };
    await warmCache();
    const rawServer = await startRawServer(RAW_SERVER, {
      REDIS_URL: bench.redis.url,
      REDIS_PREFIX: bench.redis.prefix,
    });
    const rawHttp = createHttpClient(rawServer.baseUrl, concurrency);
    const durationMs = Math.max(1000, Math.round(bench.durationMs / ROUNDS));
    const shopPhases: Phase[] = [];
    const rawPhases: Phase[] = [];
    const phases: Phase[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        // After the first phase of each side its connections and code are warm: a short settle only.
        const load = (first: boolean) => ({ concurrency, durationMs, warmupMs: first ? undefined : 300 });
        const shopPhase = () =>
          bench.phase(
            `shop GET /products/{id} @${concurrency} (round ${round})`,
            load(round === 1),
            (options) =>
              runClosedLoop(
                async () => String((await http.request('GET', `/api/v1/products/${pick(ids)}`)).status),
                options,
              ),
          );
        const rawPhase = async () => {
          await warmCache();
          return bench.phase(
            `raw node:http + Redis GET @${concurrency} (round ${round})`,
            load(round === 1),
            (options) =>
              runClosedLoop(
                async () => String((await rawHttp.request('GET', `/p/${pick(ids)}`)).status),
                options,
              ),
            { serverPid: rawServer.pid },
          );
        };
        for (const side of round % 2 === 1 ? ['shop', 'raw'] : ['raw', 'shop']) {
          const phase = side === 'shop' ? await shopPhase() : await rawPhase();
          (side === 'shop' ? shopPhases : rawPhases).push(phase);
          phases.push(phase);
        }
      }
    } finally {
      await rawHttp.close();
      await rawServer.stop();
    }

    const rate = (list: Phase[]) =>
      list.reduce((sum, p) => sum + (p.load.outcomes['200'] ?? 0), 0) /
      list.reduce((sum, p) => sum + p.load.elapsedS, 0);
    const reads = rate(shopPhases);
    const rawReads = rate(rawPhases);
    if (rawReads === 0) {
      // The bare server reads the shop's cache key by its own spelling: a layout change shows here.
      throw new Error(
        `the raw server found no cached product (answers: ${outcomeSummary(rawPhases[0]!.load)})`,
      );
    }
    // Latencies of the round whose shop phase had the highest p95 (the conservative one).
    const worst = shopPhases.reduce(
      (a, b, i) => (b.load.latency.p95 > shopPhases[a]!.load.latency.p95 ? i : a),
      0,
    );
    const rows: ResultRow[] = [
      {
        metric: `req/s @${concurrency}`,
        value: round(reads, 0),
        raw: { value: round(rawReads, 0), unit: 'req/s', what: 'node:http + one Redis GET' },
        ratio: reads / rawReads,
        target: { text: '≥ 15,000 req/s', met: reads >= 15_000 },
      },
      {
        metric: 'ratio by round',
        value: shopPhases
          .map((p, i) => `${round((100 * rateOf(p.load, '200')) / rateOf(rawPhases[i]!.load, '200'), 1)} %`)
          .join(' / '),
      },
      ...latencyRows(shopPhases[worst]!.load, {
        raw: rawPhases[worst]!.load,
        rawWhat: 'raw latency',
        p95Target: 50,
        outcome: '200',
      }),
      { metric: 'responses', value: shopPhases.map((p) => outcomeSummary(p.load)).join(' + ') },
    ];
    const rawResponses: Record<string, number> = {};
    for (const p of rawPhases)
      for (const [outcome, n] of Object.entries(p.load.outcomes))
        rawResponses[outcome] = (rawResponses[outcome] ?? 0) + n;
    return { rows, phases, checks: { rawResponses } };
  },
};
