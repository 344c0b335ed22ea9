import { resolve } from 'node:path';
import type { ResultRow, Scenario } from '../scenario';
import { createHttpClient } from '../support/http-client';
import { runClosedLoop } from '../support/load';
import { latencyRows, outcomeSummary, rateOf, round } from '../support/rows';
import { startRawServer } from '../support/shop-process';
import { pick } from '../support/shop-requests';

const PRODUCTS = 300;
const RAW_SERVER = resolve(import.meta.dirname, '../raw/redis-get-server.ts');

/**
 * Anonymous GET /api/v1/products/{id} over a few hundred products, all cached (SPEC §9: ≥ 15,000
 * req/s; reads p95 < 50 ms at 100 clients), next to a bare node:http server doing one Redis GET of
 * the same cached entries, loaded by the same client at the same concurrency.
 */
export const productReads: Scenario = {
  name: 'product-reads',
  summary: `GET /products/{id} over ${PRODUCTS} cached products vs node:http + one Redis GET`,
  defaultConcurrency: 100,
  run: async (bench, concurrency) => {
    bench.note(`seeding ${PRODUCTS} products`);
    const ids = await bench.seed.products(PRODUCTS, { stock: 1000 });
    const http = bench.http(concurrency);
    const warmCache = async () => {
      for (const id of ids) {
        const res = await http.request('GET', `/api/v1/products/${id}`);
        if (res.status !== 200) throw new Error(`GET /products/${id} answered ${res.status}`);
      }
    };
    await warmCache();
    const shop = await bench.phase(`shop GET /products/{id} @${concurrency}`, { concurrency }, (options) =>
      runClosedLoop(
        async () => String((await http.request('GET', `/api/v1/products/${pick(ids)}`)).status),
        options,
      ),
    );

    // Entries live PRODUCT_CACHE_TTL_S: store them again so the raw server finds every one.
    await warmCache();
    const rawServer = await startRawServer(RAW_SERVER, {
      REDIS_URL: bench.redis.url,
      REDIS_PREFIX: bench.redis.prefix,
    });
    const rawHttp = createHttpClient(rawServer.baseUrl, concurrency);
    const raw = await bench
      .phase(
        `raw node:http + Redis GET @${concurrency}`,
        { concurrency },
        (options) =>
          runClosedLoop(
            async () => String((await rawHttp.request('GET', `/p/${pick(ids)}`)).status),
            options,
          ),
        { serverPid: rawServer.pid },
      )
      .finally(async () => {
        await rawHttp.close();
        await rawServer.stop();
      });

    const reads = rateOf(shop.load, '200');
    const rawReads = rateOf(raw.load, '200');
    if (rawReads === 0) {
      // The bare server reads the shop's cache key by its own spelling: a layout change shows here.
      throw new Error(`the raw server found no cached product (answers: ${outcomeSummary(raw.load)})`);
    }
    const rows: ResultRow[] = [
      {
        metric: `req/s @${concurrency}`,
        value: round(reads, 0),
        raw: { value: round(rawReads, 0), unit: 'req/s', what: 'node:http + one Redis GET' },
        ratio: reads / rawReads,
        target: { text: '≥ 15,000 req/s', met: reads >= 15_000 },
      },
      ...latencyRows(shop.load, { raw: raw.load, rawWhat: 'raw latency', p95Target: 50, outcome: '200' }),
      { metric: 'responses', value: outcomeSummary(shop.load) },
    ];
    return { rows, phases: [shop, raw], checks: { rawResponses: raw.load.outcomes } };
  },
};
