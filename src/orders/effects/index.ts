import * as coupon from './coupon.effects';
import type { Effect } from './effect-context';
import * as inventory from './inventory.effects';
import * as orderEvents from './order-events.effects';
import * as payment from './payment.effects';

/** The implementation of every named effect of the order machine (a test keeps the two in step). */
export const orderEffects: Record<string, Effect> = {
  ...inventory,
  ...coupon,
  ...payment,
  ...orderEvents,
};
