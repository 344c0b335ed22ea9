import type { EntityManager } from '@mikro-orm/postgresql';
import type { QueueWorkerDefinition } from '../../workers/runtime';
import { insertDoneReceipt, resourcePath } from '../commands/receipts';
import { runCommandJob, type StepResult } from '../commands/run-command';
import type { AppContext } from '../context';
import { Outbox } from '../db/outbox';
import { query, sql } from '../db/sql';
import type { Logger } from '../logger';
import type { AdjustStockCommand, CommandEnvelope, RestockCommand } from '../messaging/messages';
import { applyRestock, applyStockAdjustment } from './inventory.service';

export const RECONCILE = 'RECONCILE';
const RECONCILE_EVERY_MS = 5 * 60_000;

/** The inventory actor's mailbox: restocks and corrections, and the periodic reconciliation. */
export const inventoryWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'inventory',
  onStart: async (ctx) => {
    await ctx.queues.inventory.upsertJobScheduler(
      'inventory-reconcile',
      { every: RECONCILE_EVERY_MS },
      { name: RECONCILE, data: {}, opts: { removeOnComplete: 10, removeOnFail: 10 } },
    );
  },
  refreshEveryMs: () => 60_000,
  process: async (ctx, job, log) => {
    switch (job.name) {
      case 'RESTOCK':
        return runCommandJob(ctx, job, log, (tx, now) => restock(tx, job.data as RestockCommand, now));
      case 'ADJUST':
        return runCommandJob(ctx, job, log, (tx, now) => adjust(tx, job.data as AdjustStockCommand, now));
      case RECONCILE:
        return reconcileInventory(ctx, log);
      default:
        log.error({ name: job.name }, 'unknown inventory message; dropped');
        return 'unknown';
    }
  },
};

async function restock(tx: EntityManager, command: RestockCommand, now: Date): Promise<StepResult> {
  const view = await applyRestock(
    tx,
    { id: command.userId, role: command.role },
    command.productId,
    command.quantity,
  );
  return commit(tx, command, now, 'RESTOCK', view.productId, {
    quantity: command.quantity,
    stock: view.stock,
  });
}

async function adjust(tx: EntityManager, command: AdjustStockCommand, now: Date): Promise<StepResult> {
  const view = await applyStockAdjustment(tx, command.productId, command.delta);
  return commit(tx, command, now, 'ADJUST', view.productId, {
    delta: command.delta,
    reason: command.reason,
    stock: view.stock,
  });
}

/** The event and the receipt of a stock change, in its transaction. */
async function commit(
  tx: EntityManager,
  command: CommandEnvelope,
  now: Date,
  type: string,
  productId: string,
  facts: Record<string, unknown>,
): Promise<StepResult> {
  const outbox = new Outbox();
  outbox.event(
    type === 'RESTOCK' ? 'INVENTORY_RESTOCKED' : 'INVENTORY_ADJUSTED',
    { type: 'product', id: productId },
    {
      productId,
      by: command.userId,
      ...facts,
    },
  );
  await outbox.flush(tx, now);
  await insertDoneReceipt(
    tx,
    {
      commandId: command.commandId,
      userId: command.userId,
      type,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      httpStatus: 200,
      resource: resourcePath('inventory', productId),
    },
    now,
  );
  return {
    answer: { resource: 'inventory', id: productId, httpStatus: 200 },
    touchedProducts: [productId],
    outboxRows: 1,
  };
}

export interface InventoryDrift {
  productId: string;
  reserved: number;
  heldByPendingOrders: number;
}

/**
 * Verifies SPEC §8.1 on live data: for every product, reserved = Σ quantities of its PENDING orders.
 * Drift means a bug or a manual edit; it is reported (error log) rather than silently "fixed".
 */
export async function findInventoryDrift(em: EntityManager): Promise<InventoryDrift[]> {
  return query<InventoryDrift>(
    em,
    sql`select i.product_id as "productId", i.reserved, coalesce(p.held, 0)::int as "heldByPendingOrders"
        from inventory i
        left join (select oi.product_id, sum(oi.quantity) as held from order_items oi
                   join orders o on o.id = oi.order_id and o.status = 'PENDING' group by oi.product_id) p
          on p.product_id = i.product_id
        where i.reserved <> coalesce(p.held, 0)
        order by i.product_id limit 1000`,
  );
}

async function reconcileInventory(ctx: AppContext, log: Logger) {
  const drift = await findInventoryDrift(ctx.orm.em.fork());
  if (drift.length > 0)
    log.error({ drift }, 'inventory drift: reserved differs from what pending orders hold');
  else log.info('inventory reconciled: no drift');
  return { drift: drift.length };
}
