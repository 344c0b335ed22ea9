import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, sql } from '../../src/db/sql';
import { isGatewayDeclined } from '../../src/errors/gateway-declined.error';
import { isGatewayTimeout } from '../../src/errors/gateway-timeout.error';
import { isGatewayTransient } from '../../src/errors/gateway-transient.error';
import { uuidv7 } from '../../src/ids';
import { paymentGateway } from '../../src/payments/gateway';
import {
  type GatewayOperation,
  setGatewayLatencyObserver,
} from '../../src/payments/gateway/gateway-observer';
import { MockGateway } from '../../src/payments/gateway/mock-gateway';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

let shop: TestShop;
beforeAll(async () => {
  shop = await createTestShop();
});
afterAll(() => shop?.close());

const gateway = (latencyMs = 0, timeoutMs = 1000) =>
  new MockGateway(() => shop.ctx.orm.em.fork(), { latencyMs, timeoutMs });

const capture = (cardToken: string | null = null, amount = 5_000) => ({
  paymentId: uuidv7(),
  orderId: uuidv7(),
  amount,
  cardToken,
});

const chargesOf = (paymentId: string) =>
  query<{ kind: string; amount: number; refund_id: string | null }>(
    shop.ctx.orm.em.fork(),
    sql`select kind, amount, refund_id from gateway_charges where payment_id = ${paymentId} order by created_at`,
  );

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('captures are idempotent by payment id', () => {
  it('ten concurrent captures of one payment charge once and all answer with that charge', async () => {
    const g = gateway(5);
    const request = capture();
    const charges = await Promise.all(Array.from({ length: 10 }, () => g.capture(request)));
    expect(new Set(charges.map((c) => c.id)).size).toBe(1);
    expect(charges[0]).toMatchObject({
      paymentId: request.paymentId,
      kind: 'CAPTURE',
      amount: 5_000,
      refundId: null,
    });
    expect(await chargesOf(request.paymentId)).toEqual([{ kind: 'CAPTURE', amount: 5_000, refund_id: null }]);
    expect(await g.findCapture(request.paymentId)).toEqual(charges[0]);
  });

  it('the ledger itself refuses a second CAPTURE for a payment', async () => {
    const request = capture();
    await gateway().capture(request);
    await expect(
      query(
        shop.ctx.orm.em.fork(),
        sql`insert into gateway_charges (id, payment_id, order_id, kind, amount, created_at)
            values (${uuidv7()}, ${request.paymentId}, ${request.orderId}, 'CAPTURE', 1, now())`,
      ),
    ).rejects.toThrow(/gateway_charges_one_capture_per_payment/);
  });
});

describe('card tokens', () => {
  it.each([
    ['tok_declined', 'CARD_DECLINED'],
    ['tok_insufficient', 'INSUFFICIENT_FUNDS'],
    ['tok_who_knows', 'CARD_DECLINED'],
  ])('%s is declined with %s and charges nothing', async (token, reason) => {
    const request = capture(token);
    const error = await failureOf(gateway().capture(request));
    expect(isGatewayDeclined(error) && error.reason).toBe(reason);
    expect(await chargesOf(request.paymentId)).toEqual([]);
  });

  it('tok_flaky fails transiently twice per payment, then captures, then stays captured', async () => {
    const g = gateway();
    const request = capture('tok_flaky');
    expect(isGatewayTransient(await failureOf(g.capture(request)))).toBe(true);
    expect(isGatewayTransient(await failureOf(g.capture(request)))).toBe(true);
    const charge = await g.capture(request);
    expect((await g.capture(request)).id).toBe(charge.id);
    // Another payment with the same card starts its own count.
    expect(isGatewayTransient(await failureOf(g.capture(capture('tok_flaky'))))).toBe(true);
  });

  it('tok_timeout never answers within the timeout and never captures', async () => {
    const request = capture('tok_timeout');
    const started = Date.now();
    const error = await failureOf(gateway(0, 150).capture(request));
    expect(isGatewayTimeout(error)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await new Promise((r) => setTimeout(r, 200));
    expect(await chargesOf(request.paymentId)).toEqual([]);
  });

  it('a capture slower than the caller’s patience still lands, and findCapture then sees it', async () => {
    const g = gateway(300, 100);
    const request = capture();
    expect(isGatewayTimeout(await failureOf(g.capture(request)))).toBe(true);
    const found = await eventually(() => g.findCapture(request.paymentId), 15_000, 20);
    expect(found).toMatchObject({ kind: 'CAPTURE', amount: request.amount });
  });
});

describe('refunds', () => {
  it('refund a capture in parts, idempotently by refund id, never beyond what was captured', async () => {
    const g = gateway();
    const paid = capture(null, 10_000);
    await g.capture(paid);
    const part = { refundId: uuidv7(), paymentId: paid.paymentId, orderId: paid.orderId, amount: 4_000 };
    const first = await g.refund(part);
    expect((await g.refund(part)).id).toBe(first.id);
    const tooMuch = await failureOf(g.refund({ ...part, refundId: uuidv7(), amount: 6_001 }));
    expect(isGatewayDeclined(tooMuch) && tooMuch.reason).toBe('REFUND_EXCEEDS_CAPTURE');
    // Five concurrent refunds of 2,000 against the 6,000 left: exactly three fit.
    const racing = await Promise.allSettled(
      Array.from({ length: 5 }, () => g.refund({ ...part, refundId: uuidv7(), amount: 2_000 })),
    );
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const ledger = await chargesOf(paid.paymentId);
    expect(ledger.filter((c) => c.kind === 'REFUND').reduce((sum, c) => sum + c.amount, 0)).toBe(10_000);
    expect(await g.findRefund(part.refundId)).toMatchObject({ id: first.id, refundId: part.refundId });
  });

  it('refuse a payment the gateway never captured', async () => {
    const error = await failureOf(
      gateway().refund({ refundId: uuidv7(), paymentId: uuidv7(), orderId: uuidv7(), amount: 1 }),
    );
    expect(isGatewayDeclined(error) && error.reason).toBe('NO_CAPTURE');
  });

  it('of a tok_flaky card fail transiently twice per refund too', async () => {
    const g = gateway();
    const paid = capture('tok_flaky');
    await failureOf(g.capture(paid));
    await failureOf(g.capture(paid));
    await g.capture(paid);
    const request = { refundId: uuidv7(), paymentId: paid.paymentId, orderId: paid.orderId, amount: 100 };
    expect(isGatewayTransient(await failureOf(g.refund(request)))).toBe(true);
    expect(isGatewayTransient(await failureOf(g.refund(request)))).toBe(true);
    expect(await g.refund(request)).toMatchObject({ kind: 'REFUND', amount: 100 });
  });
});

describe('the latency hook', () => {
  it('reports every call of the process gateway with its outcome', async () => {
    const seen: [GatewayOperation, string][] = [];
    setGatewayLatencyObserver((operation, outcome, seconds) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      seen.push([operation, outcome]);
    });
    try {
      const g = paymentGateway(shop.ctx);
      await g.capture(capture());
      await failureOf(g.capture(capture('tok_declined')));
      await g.findCapture(uuidv7());
      expect(seen).toEqual([
        ['capture', 'ok'],
        ['capture', 'declined'],
        ['findCapture', 'ok'],
      ]);
    } finally {
      setGatewayLatencyObserver(() => {});
    }
  });
});
