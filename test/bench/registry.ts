import type { Scenario } from './scenario';
import { flashSale } from './scenarios/flash-sale';
import { placement, placementAt100 } from './scenarios/placement';
import { productReads } from './scenarios/product-reads';

/**
 * Every scenario `npm run bench` knows, in the order they run. A new scenario is one file in
 * scenarios/ exporting a `Scenario`, plus one line here. Planned, each with its own issue:
 *
 * - `checkout` (issue 4): place + pay (CARD, `serverEnv: { PAYMENT_GATEWAY_LATENCY_MS: '0' }`) +
 *   poll until PAID; orders/s and latency next to the raw SQL of placement + success transactions,
 *   captured the way raw/placement-capture.ts captures placement.
 * - `coupon-rush` (issue 5): 10,000 issue requests from distinct users (`bench.seed.buyers(10_000)`)
 *   for 500 coupons; requests/s, 201 vs 409, exactly 500 issued; raw ceiling: the same Lua script
 *   called directly over ioredis (`bench.redis`) at the same concurrency.
 * - `outbox-lag` (issue 6): under checkout load, commit → consumer applied p50/p99, read from the
 *   outbox rows' and the consumers' timestamps in `bench.database`.
 */
export const SCENARIOS: Scenario[] = [placement, placementAt100, flashSale, productReads];

export function findScenarios(names: string[]): Scenario[] {
  if (names.length === 0) return SCENARIOS;
  return names.map((name) => {
    const scenario = SCENARIOS.find((s) => s.name === name);
    if (!scenario) {
      throw new Error(`unknown scenario '${name}' (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
    }
    return scenario;
  });
}
