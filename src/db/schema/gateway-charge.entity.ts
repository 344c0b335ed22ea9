import { defineEntity, p } from '@mikro-orm/postgresql';

export const GATEWAY_CHARGE_KINDS = ['CAPTURE', 'REFUND'] as const;
export type GatewayChargeKind = (typeof GATEWAY_CHARGE_KINDS)[number];

/**
 * The mock payment gateway's own ledger (it stands where a real PG keeps its records): one row per
 * money movement it carried out. Deliberately no foreign keys into the shop's tables — it is another
 * system's book. The partial unique indexes are its idempotency: at most one CAPTURE per payment and
 * one REFUND per refund, whatever retries, crashes or races happen on the shop's side.
 */
export const GatewayChargeSchema = defineEntity({
  name: 'GatewayCharge',
  tableName: 'gateway_charges',
  properties: {
    id: p.uuid().primary(),
    paymentId: p.uuid(),
    orderId: p.uuid(),
    refundId: p.uuid().nullable(),
    kind: p.enum(GATEWAY_CHARGE_KINDS),
    /** Positive won, whichever way the money went. */
    amount: p.integer(),
    /** The card a capture charged (refunds of it behave like the card, e.g. `tok_flaky`). */
    cardToken: p.string().length(64).nullable(),
    createdAt: p.datetime(),
  },
  uniques: [
    { name: 'gateway_charges_one_capture_per_payment', properties: ['paymentId'], where: "kind = 'CAPTURE'" },
    { name: 'gateway_charges_one_refund_per_refund', properties: ['refundId'], where: "kind = 'REFUND'" },
  ],
  indexes: [
    { name: 'gateway_charges_payment_created_index', properties: ['paymentId', 'createdAt'] },
    { name: 'gateway_charges_order_created_index', properties: ['orderId', 'createdAt'] },
  ],
  checks: [
    { name: 'gateway_charges_amount_positive', expression: 'amount > 0' },
    {
      name: 'gateway_charges_refund_id_for_refunds',
      expression: "(kind = 'REFUND') = (refund_id is not null)",
    },
  ],
});
export class GatewayCharge extends GatewayChargeSchema.class {}
GatewayChargeSchema.setClass(GatewayCharge);
