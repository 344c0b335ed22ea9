import type { GatewayChargeKind } from '../../db/schema/gateway-charge.entity';

export interface CaptureRequest {
  paymentId: string;
  orderId: string;
  amount: number;
  /** Absent means the default test card (`tok_ok`). */
  cardToken: string | null;
}

export interface RefundRequest {
  refundId: string;
  paymentId: string;
  orderId: string;
  amount: number;
}

/** One money movement as the gateway recorded it (API.md `/admin/gateway/charges`). */
export interface GatewayChargeRecord {
  id: string;
  paymentId: string;
  orderId: string;
  refundId: string | null;
  kind: GatewayChargeKind;
  /** Positive won, whichever way the money went. */
  amount: number;
  createdAt: string;
}

/**
 * What the shop needs from a payment gateway: the mock today, a real PG adapter tomorrow.
 *
 * Every call is idempotent by the shop's own id, as real PGs are by idempotency key: a capture asked
 * again for the same payment, or a refund for the same refund, answers with the first result and
 * moves no money twice. That is what makes a retry after a crash safe.
 *
 * Failures:
 * - `GatewayDeclinedError` — a final no (declined card, nothing to refund); do not retry;
 * - `GatewayTransientError` — may pass; retry later;
 * - `GatewayTimeoutError` — no answer in time: the outcome is unknown, so before giving up ask
 *   `findCapture` / `findRefund` whether the gateway acted after all.
 */
export interface PaymentGateway {
  capture(request: CaptureRequest): Promise<GatewayChargeRecord>;
  refund(request: RefundRequest): Promise<GatewayChargeRecord>;
  findCapture(paymentId: string): Promise<GatewayChargeRecord | undefined>;
  findRefund(refundId: string): Promise<GatewayChargeRecord | undefined>;
}
