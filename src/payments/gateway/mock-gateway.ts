import { setTimeout as sleep } from 'node:timers/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../../db/database';
import type { GatewayChargeKind } from '../../db/schema/gateway-charge.entity';
import { asDate, preparedStatement, query, sql } from '../../db/sql';
import { GatewayDeclinedError } from '../../errors/gateway-declined.error';
import { GatewayTimeoutError } from '../../errors/gateway-timeout.error';
import { GatewayTransientError } from '../../errors/gateway-transient.error';
import { uuidv7 } from '../../ids';
import { NEWEST_FIRST, orderBySql, type PageRequest, type SortRequest } from '../../paging';
import type { CaptureRequest, GatewayChargeRecord, PaymentGateway, RefundRequest } from './payment-gateway';

/** The test cards of API.md. */
export const MOCK_CARD_TOKENS = {
  approved: 'tok_ok',
  declined: 'tok_declined',
  insufficientFunds: 'tok_insufficient',
  flaky: 'tok_flaky',
  timeout: 'tok_timeout',
} as const;

/** `tok_flaky` fails this many times per operation, then works. */
export const FLAKY_FAILURES = 2;

export interface MockGatewayOptions {
  /**
   * Round trip of a capture or refund (the card network's share of it); the gateway acts halfway
   * through. Lookups answer from the gateway's own records without it.
   */
  latencyMs: number;
  /** The caller gives up after this long (its HTTP client's timeout, were the gateway remote). */
  timeoutMs: number;
  /**
   * Tests only: every capture and refund moves money — no dedupe by payment or refund id, no check of
   * refunds against the capture — so a test shows the shop itself never asks twice or for too much.
   * (The test database must drop the ledger's unique indexes for the duplicates to be recorded.)
   */
  lenient?: boolean;
}

type ChargeRow = Row<
  'gateway_charges',
  'id' | 'payment_id' | 'order_id' | 'refund_id' | 'kind' | 'amount' | 'card_token' | 'created_at'
>;

/**
 * A payment gateway that is part of the product: it keeps its own ledger (`gateway_charges`),
 * written in its own committed transactions — the shop's transactions never contain it, just as they
 * could not contain a remote PG's. Its answers are decided by the card token, after a configurable
 * latency; the caller's timeout is enforced here as a client would enforce it. A request the caller
 * gave up on still completes inside the gateway (as at a real PG), which is why callers ask
 * `findCapture`/`findRefund` before declaring a timed-out payment failed.
 */
export class MockGateway implements PaymentGateway {
  constructor(
    private readonly em: () => EntityManager,
    private readonly options: MockGatewayOptions,
  ) {}

  capture(request: CaptureRequest): Promise<GatewayChargeRecord> {
    return this.call('capture', () => this.roundTrip(() => this.carryOutCapture(request)));
  }

  refund(request: RefundRequest): Promise<GatewayChargeRecord> {
    return this.call('refund', () => this.roundTrip(() => this.carryOutRefund(request)));
  }

  findCapture(paymentId: string): Promise<GatewayChargeRecord | undefined> {
    return this.call('findCapture', async () => view(await this.capturedFor(paymentId)));
  }

  findRefund(refundId: string): Promise<GatewayChargeRecord | undefined> {
    return this.call('findRefund', async () => view(await this.refundRow(refundId)));
  }

  /** The caller's side: it waits at most `timeoutMs`; the gateway's side carries on regardless. */
  private call<T>(operation: string, remote: () => Promise<T>): Promise<T> {
    const answer = remote();
    // A request the caller abandoned may still fail later (e.g. the process is closing): nobody waits.
    answer.catch(() => undefined);
    const { timeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new GatewayTimeoutError(operation, timeoutMs)), timeoutMs);
      answer.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Half the latency on the way in, the rest on the way back (also for a refusal). */
  private async roundTrip<T>(work: () => Promise<T>): Promise<T> {
    const inbound = Math.floor(this.options.latencyMs / 2);
    const outbound = this.options.latencyMs - inbound;
    if (inbound > 0) await sleep(inbound);
    try {
      return await work();
    } finally {
      if (outbound > 0) await sleep(outbound);
    }
  }

  private async carryOutCapture(r: CaptureRequest): Promise<GatewayChargeRecord> {
    const token = r.cardToken ?? MOCK_CARD_TOKENS.approved;
    // A payment captured before is answered with its charge. An approved card needs no look-up for
    // that: its insert below finds the earlier charge (one statement for the common case).
    const existing =
      this.options.lenient || token === MOCK_CARD_TOKENS.approved
        ? undefined
        : await this.capturedFor(r.paymentId);
    if (existing) return view(existing)!;
    switch (token) {
      case MOCK_CARD_TOKENS.approved:
        break;
      case MOCK_CARD_TOKENS.insufficientFunds:
        throw new GatewayDeclinedError('INSUFFICIENT_FUNDS');
      case MOCK_CARD_TOKENS.timeout:
        // Never answers, never captures.
        return new Promise<never>(() => {});
      case MOCK_CARD_TOKENS.flaky:
        await this.failWhileFlaky(`capture-${r.paymentId}`);
        break;
      default:
        // tok_declined, and any card this gateway does not know.
        throw new GatewayDeclinedError('CARD_DECLINED');
    }
    if (this.options.lenient) return view(await this.insertCharge(this.em(), r, 'CAPTURE', null, token))!;
    const [inserted] = await query<ChargeRow>(
      this.em(),
      preparedStatement(sql`insert into gateway_charges (id, payment_id, order_id, refund_id, kind, amount, card_token, created_at)
          values (${uuidv7()}, ${r.paymentId}, ${r.orderId}, null, 'CAPTURE', ${r.amount}, ${token}, now())
          on conflict (payment_id) where kind = 'CAPTURE' do nothing
          returning *`),
    );
    // Nothing inserted: a concurrent call for the same payment captured first; answer with its charge.
    return view(inserted ?? (await this.capturedFor(r.paymentId)))!;
  }

  private async carryOutRefund(r: RefundRequest): Promise<GatewayChargeRecord> {
    const existing = this.options.lenient ? undefined : await this.refundRow(r.refundId);
    if (existing) return view(existing)!;
    const capture = await this.capturedFor(r.paymentId);
    if (!capture) throw new GatewayDeclinedError('NO_CAPTURE');
    if (capture.card_token === MOCK_CARD_TOKENS.flaky) await this.failWhileFlaky(`refund-${r.refundId}`);
    if (this.options.lenient) return view(await this.insertCharge(this.em(), r, 'REFUND', r.refundId, null))!;
    const row = await this.em().transactional(async (tx) => {
      // The capture row is the lock that serialises refunds of one payment.
      await query(tx, sql`select id from gateway_charges where id = ${capture.id} for update`);
      const again = await this.refundRow(r.refundId, tx);
      if (again) return again;
      const [{ refunded }] = (await query<{ refunded: number }>(
        tx,
        sql`select coalesce(sum(amount), 0)::int as refunded from gateway_charges
            where payment_id = ${r.paymentId} and kind = 'REFUND'`,
      )) as [{ refunded: number }];
      if (refunded + r.amount > capture.amount) throw new GatewayDeclinedError('REFUND_EXCEEDS_CAPTURE');
      const [inserted] = await query<ChargeRow>(
        tx,
        sql`insert into gateway_charges (id, payment_id, order_id, refund_id, kind, amount, card_token, created_at)
            values (${uuidv7()}, ${r.paymentId}, ${r.orderId}, ${r.refundId}, 'REFUND', ${r.amount}, null, now())
            returning *`,
      );
      return inserted!;
    });
    return view(row)!;
  }

  private async insertCharge(
    em: EntityManager,
    r: { paymentId: string; orderId: string; amount: number },
    kind: GatewayChargeKind,
    refundId: string | null,
    token: string | null,
  ): Promise<ChargeRow> {
    const [inserted] = await query<ChargeRow>(
      em,
      sql`insert into gateway_charges (id, payment_id, order_id, refund_id, kind, amount, card_token, created_at)
          values (${uuidv7()}, ${r.paymentId}, ${r.orderId}, ${refundId}, ${kind}, ${r.amount}, ${token}, now())
          returning *`,
    );
    return inserted!;
  }

  /** `tok_flaky`: the first FLAKY_FAILURES requests of an operation fail; counted in the gateway's own log. */
  private async failWhileFlaky(operation: string): Promise<void> {
    const [row] = await query<Row<'gateway_attempts', 'attempts'>>(
      this.em(),
      sql`insert into gateway_attempts (operation, attempts, updated_at) values (${operation}, 1, now())
          on conflict (operation) do update set attempts = gateway_attempts.attempts + 1, updated_at = now()
          returning attempts`,
    );
    if (row!.attempts <= FLAKY_FAILURES) {
      throw new GatewayTransientError(`Gateway hiccup on ${operation} (attempt ${row!.attempts})`);
    }
  }

  private async capturedFor(paymentId: string): Promise<ChargeRow | undefined> {
    const [row] = await query<ChargeRow>(
      this.em(),
      sql`select * from gateway_charges where payment_id = ${paymentId} and kind = 'CAPTURE'`,
    );
    return row;
  }

  private async refundRow(refundId: string, em = this.em()): Promise<ChargeRow | undefined> {
    const [row] = await query<ChargeRow>(
      em,
      sql`select * from gateway_charges where refund_id = ${refundId} and kind = 'REFUND'`,
    );
    return row;
  }
}

function view(row: ChargeRow | undefined): GatewayChargeRecord | undefined {
  if (!row) return undefined;
  return {
    id: row.id,
    paymentId: row.payment_id,
    orderId: row.order_id,
    refundId: row.refund_id,
    kind: row.kind,
    amount: row.amount,
    createdAt: asDate(row.created_at).toISOString(),
  };
}

/** What `GET /admin/gateway/charges?sort=` may order by (the API's names), and their columns. */
export const GATEWAY_CHARGE_SORT_FIELDS = ['createdAt', 'amount'] as const;
export type GatewayChargeSortField = (typeof GATEWAY_CHARGE_SORT_FIELDS)[number];
const GATEWAY_CHARGE_SORT_COLUMNS: Record<GatewayChargeSortField, string> = {
  createdAt: 'created_at',
  amount: 'amount',
};

/**
 * The admin's view of the mock's ledger (`GET /admin/gateway/charges`), newest first unless `sort`
 * says otherwise (id breaks ties the same way).
 */
export async function listGatewayCharges(
  em: EntityManager,
  filter: {
    paymentId?: string | undefined;
    orderId?: string | undefined;
    sort?: SortRequest<GatewayChargeSortField> | undefined;
  } & PageRequest,
): Promise<{ charges: GatewayChargeRecord[]; total: number }> {
  const paymentId = filter.paymentId ?? null;
  const orderId = filter.orderId ?? null;
  const where = sql`(${paymentId}::uuid is null or payment_id = ${paymentId}::uuid)
                    and (${orderId}::uuid is null or order_id = ${orderId}::uuid)`;
  const [rows, [count]] = await Promise.all([
    query<ChargeRow>(
      em,
      sql`select * from gateway_charges where ${where}
          order by ${orderBySql(filter.sort ?? NEWEST_FIRST, GATEWAY_CHARGE_SORT_COLUMNS)}
          limit ${filter.size} offset ${filter.page * filter.size}`,
    ),
    query<{ n: number }>(em, sql`select count(*)::int as n from gateway_charges where ${where}`),
  ]);
  return { charges: rows.map((r) => view(r)!), total: count!.n };
}
