import { defineEntity, p } from '@mikro-orm/postgresql';

/**
 * How many times the mock gateway was asked to carry out one operation (`capture-{paymentId}`,
 * `refund-{refundId}`): its own request log, which decides when a `tok_flaky` card stops failing.
 */
export const GatewayAttemptSchema = defineEntity({
  name: 'GatewayAttempt',
  tableName: 'gateway_attempts',
  properties: {
    operation: p.string().length(80).primary(),
    attempts: p.integer(),
    updatedAt: p.datetime(),
  },
});
export class GatewayAttempt extends GatewayAttemptSchema.class {}
GatewayAttemptSchema.setClass(GatewayAttempt);
