import { Gauge, type Registry } from 'prom-client';
import type { AppContext } from '../context';
import { couponGateKeys, GATED_STATUSES } from '../coupons/coupon-gate';
import type { Row } from '../db/database';
import { query, sql } from '../db/sql';

/** Reads one source for a scrape, reporting it up or down (metrics.ts's readSource). */
export type ReadSource = (source: 'postgres' | 'redis', read: () => Promise<void>) => Promise<void>;

type RemainingInPostgres = Row<'coupons', 'id'> & { remaining: number };

/** More gated coupons than this are not compared in one scrape (the figure then covers the newest). */
const MAX_GATES_COMPARED = 5000;

/**
 * Gauges an operator alerts on, read at scrape time: orders that outlived the deadline their machine
 * set (a lost timer the sweeper has not caught up with), and coupon gates in Redis that disagree with
 * PostgreSQL's count (a gate rebuild is due). Returns the reads, for the scrape's source-up gauge.
 */
export function registerOperatorGauges(
  registry: Registry,
  ctx: AppContext,
  readSource: ReadSource,
): (() => Promise<void>)[] {
  const readOverdue = sharedWhileRunning(() =>
    readSource('postgres', async () => {
      // Both through partial indexes: orders_pending_expires_index and orders_auto_confirm_index.
      const [row] = await query<{
        pending: number;
        pending_s: number | null;
        paid: number;
        paid_s: number | null;
      }>(
        ctx.orm.em.fork(),
        sql`select p.count::int as pending, p.worst::float8 as pending_s, q.count::int as paid, q.worst::float8 as paid_s
            from (select count(*), extract(epoch from now() - min(expires_at)) as worst
                  from orders where status = 'PENDING' and expires_at < now()) p,
                 (select count(*), extract(epoch from now() - min(auto_confirm_at)) as worst
                  from orders where status = 'PAID' and auto_confirm_at < now()) q`,
      );
      overdue.set({ status: 'PENDING' }, row?.pending ?? 0);
      overdue.set({ status: 'PAID' }, row?.paid ?? 0);
      overdueSeconds.set({ status: 'PENDING' }, Math.max(0, row?.pending_s ?? 0));
      overdueSeconds.set({ status: 'PAID' }, Math.max(0, row?.paid_s ?? 0));
    }),
  );
  const overdue = new Gauge({
    name: 'shop_orders_overdue',
    help: 'Orders past their deadline: PENDING past the payment window, PAID past the auto-confirmation (the timeout or the sweeper is behind)',
    labelNames: ['status'] as const,
    registers: [registry],
    collect: readOverdue,
  });
  const overdueSeconds = new Gauge({
    name: 'shop_orders_overdue_seconds',
    help: 'How long the most overdue order of each status (PENDING, PAID) is past its deadline; 0 when none',
    labelNames: ['status'] as const,
    registers: [registry],
    collect: readOverdue,
  });

  const readGates = sharedWhileRunning(async () => {
    let coupons: RemainingInPostgres[] | undefined;
    await readSource('postgres', async () => {
      coupons = await query<RemainingInPostgres>(
        ctx.orm.em.fork(),
        sql`select id, greatest(total_quantity - issued_count, 0)::int as remaining from coupons
            where status = any(${[...GATED_STATUSES]}::text[]) order by created_at desc limit ${MAX_GATES_COMPARED}`,
      );
    });
    if (!coupons) return; // PostgreSQL did not answer: the gauges keep their last figures
    const compared = coupons;
    await readSource('redis', async () => {
      const inRedis =
        compared.length === 0
          ? []
          : // One GET per gate (they live in different slots of a cluster), pipelined together.
            await Promise.all(compared.map((c) => ctx.redis.get(couponGateKeys(ctx, c.id).remaining)));
      let drifted = 0;
      let slots = 0;
      compared.forEach((coupon, i) => {
        const value = inRedis[i];
        // A missing gate is not drift: the first request that needs it rebuilds it from PostgreSQL.
        if (value === null || value === undefined) return;
        const difference = Math.abs(Number(value) - coupon.remaining);
        if (difference > 0) drifted += 1;
        slots += difference;
      });
      gatesDrifted.set(drifted);
      driftSlots.set(slots);
    });
  });
  const gatesDrifted = new Gauge({
    name: 'shop_coupon_gates_drifted',
    help: 'Issuable coupons whose Redis gate counts a different number of remaining coupons than PostgreSQL',
    registers: [registry],
    collect: readGates,
  });
  const driftSlots = new Gauge({
    name: 'shop_coupon_gate_drift_slots',
    help: 'Sum over issuable coupons of |remaining in the Redis gate - remaining in PostgreSQL|',
    registers: [registry],
    collect: readGates,
  });
  return [readOverdue, readGates];
}

/** Calls made while a run is in flight share it, so one scrape does the work once. */
export function sharedWhileRunning(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
}
