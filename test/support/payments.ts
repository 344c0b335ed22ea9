import { query, sql } from '../../src/db/sql';
import type { TestShop, TestUser } from './test-shop';
import { eventually } from './worker-process';

export const newKey = () => `key-${crypto.randomUUID()}`;

/** POST /payments with an Idempotency-Key (a fresh one unless given). */
export const pay = (
  shop: TestShop,
  user: TestUser,
  body: Record<string, unknown>,
  key: string | null = newKey(),
) =>
  shop.request('POST', '/api/v1/payments', {
    token: user.token,
    body,
    ...(key === null ? {} : { headers: { 'idempotency-key': key } }),
  });

/** POST /refunds with an Idempotency-Key (a fresh one unless given). */
export const refund = (
  shop: TestShop,
  user: TestUser,
  body: Record<string, unknown>,
  key: string | null = newKey(),
) =>
  shop.request('POST', '/api/v1/refunds', {
    token: user.token,
    body,
    ...(key === null ? {} : { headers: { 'idempotency-key': key } }),
  });

export async function getOrder(shop: TestShop, user: TestUser, orderId: string) {
  const res = await shop.request('GET', `/api/v1/orders/${orderId}`, { token: user.token });
  return res.body.data;
}

/** Polls the order until `done` holds (by default: no payment or refund is pending on it). */
export function waitForOrder(
  shop: TestShop,
  user: TestUser,
  orderId: string,
  done: (order: any) => boolean = isSettled,
  timeoutMs = 15_000,
) {
  return eventually(async () => {
    const order = await getOrder(shop, user, orderId);
    return done(order) ? order : undefined;
  }, timeoutMs);
}

/** Nothing in flight: not paying, not cancelling, no refund outstanding, payment out of the actor's hands. */
export function isSettled(order: any): boolean {
  if (order.state === 'PENDING.paying' || order.state === 'PAID.cancelling') return false;
  return !order.payment || !['REQUESTED', 'PROCESSING'].includes(order.payment.status);
}

export async function waitForRefund(shop: TestShop, user: TestUser, refundId: string, timeoutMs = 15_000) {
  return eventually(async () => {
    const res = await shop.request('GET', `/api/v1/refunds/${refundId}`, { token: user.token });
    return ['REFUNDED', 'MANUAL', 'FAILED'].includes(res.body.data?.status) ? res.body.data : undefined;
  }, timeoutMs);
}

export const rows = <T>(shop: TestShop, statement: ReturnType<typeof sql>) =>
  query<T>(shop.ctx.orm.em.fork(), statement as never);

export interface LedgerRow {
  kind: 'CAPTURE' | 'REFUND';
  amount: number;
  payment_id: string;
  refund_id: string | null;
}

/** The gateway's ledger for one order, oldest first. */
export const ledgerOf = (shop: TestShop, orderId: string) =>
  rows<LedgerRow>(
    shop,
    sql`select kind, amount, payment_id, refund_id from gateway_charges where order_id = ${orderId}
        order by created_at, id`,
  );

/** What the shop still holds of an order's money: gateway captures − refunds, balance debits − credits. */
export async function moneyHeldFor(shop: TestShop, orderId: string): Promise<number> {
  const [row] = await rows<{ held: number }>(
    shop,
    sql`select ((select coalesce(sum(case kind when 'CAPTURE' then amount else -amount end), 0)
                 from gateway_charges where order_id = ${orderId})
              - (select coalesce(sum(b.amount), 0) from balance_transactions b
                 where b.reference_id in (select id from payments where order_id = ${orderId})
                    or b.reference_id in (select id from refunds where order_id = ${orderId})))::int as held`,
  );
  return Number(row!.held);
}

export async function balanceOf(shop: TestShop, userId: string): Promise<number> {
  const [row] = await rows<{ balance: string }>(shop, sql`select balance from users where id = ${userId}`);
  return Number(row!.balance);
}

/**
 * For a shop started with MOCK_GATEWAY_MODE=lenient: the gateway's ledger loses its unique indexes in
 * this file's database, so a second capture of a payment or a refund repeated would be recorded (and
 * counted by the tests) instead of being refused by the gateway on the shop's behalf.
 */
export async function withoutGatewaySafeguards(shop: TestShop): Promise<void> {
  if (shop.config.mockGatewayMode !== 'lenient')
    throw new Error('start the shop with MOCK_GATEWAY_MODE=lenient');
  await rows(shop, sql`drop index if exists gateway_charges_one_capture_per_payment`);
  await rows(shop, sql`drop index if exists gateway_charges_one_refund_per_refund`);
}

/** Gateway charges per payment and kind: more than one CAPTURE, or REFUNDs above it, is money moved twice. */
export const gatewayChargesOf = (shop: TestShop, orderId: string) =>
  rows<{ kind: string; refund_id: string | null; amount: number }>(
    shop,
    sql`select kind, refund_id, amount from gateway_charges where order_id = ${orderId} order by created_at, id`,
  );
