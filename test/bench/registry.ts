import type { Scenario } from './scenario';
import { checkout, checkoutStream } from './scenarios/checkout';
import { couponRush } from './scenarios/coupon-rush';
import { flashSale, flashSaleAt100 } from './scenarios/flash-sale';
import { outboxLag } from './scenarios/outbox-lag';
import { placement, placementAt100 } from './scenarios/placement';
import { productReads } from './scenarios/product-reads';
import { timers } from './scenarios/timers';

/**
 * Every scenario `npm run bench` knows, in the order they run. A new scenario is one file in
 * scenarios/ exporting a `Scenario`, plus one line here. `checkout` and `outbox-lag` run the shop
 * with PAYMENT_GATEWAY_LATENCY_MS=0 (their serverEnv), which the others do not mind.
 */
export const SCENARIOS: Scenario[] = [
  placement,
  placementAt100,
  flashSale,
  flashSaleAt100,
  productReads,
  checkout,
  checkoutStream,
  couponRush,
  outboxLag,
  timers,
];

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
