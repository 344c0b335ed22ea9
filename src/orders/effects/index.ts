import * as coupon from './coupon.effects';
import type { OrderEffects } from './effect-context';
import * as inventory from './inventory.effects';
import * as orderEvents from './order-events.effects';
import * as payment from './payment.effects';
import * as reviews from './review.effects';

/** The implementation of every named effect of the order machine: the compiler keeps the two in step. */
export const orderEffects = {
  ...inventory,
  ...coupon,
  ...payment,
  ...orderEvents,
  ...reviews,
} satisfies OrderEffects;
