import type { EntityManager } from '@mikro-orm/postgresql';
import type { Job } from 'bullmq';
import { insertDoneReceipt } from '../commands/receipts';
import { runCommandJob, type StepResult } from '../commands/run-command';
import type { AppContext } from '../context';
import { query, sql } from '../db/sql';
import type { Logger } from '../logger';
import {
  type AdjustStockCommand,
  type CommandEnvelope,
  INVENTORY_RECONCILE,
  type RestockCommand,
} from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { orderTagged } from '../orders/order-tags';
import { applyRestock, applyStockAdjustment } from './inventory.service';
import { reconcileStockGate } from './stock-gate-rebuild';

/** The periodic reconciliation runs as a BullMQ job scheduler (registered again on every refresh). */
export async function scheduleInventoryReconciliation(ctx: AppContext): Promise<void> {
  await ctx.queues.inventory.upsertJobScheduler(
    'inventory-reconcile',
    { every: ctx.config.stockGateReconcileIntervalMs },
    { name: INVENTORY_RECONCILE, data: {}, opts: { removeOnComplete: 10, removeOnFail: 10 } },
  );
}

/** RESTOCK from the inventory mailbox, carried out once. */
export const runRestock = (ctx: AppContext, job: Job, command: RestockCommand, log: Logger) =>
  runCommandJob(ctx, job, command, log, (tx, now) => restock(tx, command, now));

/** ADJUST from the inventory mailbox, carried out once. */
export const runStockAdjustment = (ctx: AppContext, job: Job, command: AdjustStockCommand, log: Logger) =>
  runCommandJob(ctx, job, command, log, (tx, now) => adjust(tx, command, now));

async function restock(tx: EntityManager, command: RestockCommand, now: Date): Promise<StepResult> {
  const view = await applyRestock(
    tx,
    { id: command.userId, role: command.role },
    command.productId,
    command.quantity,
  );
  const outbox = new Outbox();
  outbox.event(
    'INVENTORY_RESTOCKED',
    { type: 'product', id: view.productId },
    { productId: view.productId, by: command.userId, quantity: command.quantity, stock: view.stock },
  );
  return commit(tx, command, now, 'RESTOCK', view.productId, outbox, command.quantity);
}

async function adjust(tx: EntityManager, command: AdjustStockCommand, now: Date): Promise<StepResult> {
  const view = await applyStockAdjustment(tx, command.productId, command.delta);
  const outbox = new Outbox();
  outbox.event(
    'INVENTORY_ADJUSTED',
    { type: 'product', id: view.productId },
    {
      productId: view.productId,
      by: command.userId,
      delta: command.delta,
      reason: command.reason,
      stock: view.stock,
    },
  );
  return commit(tx, command, now, 'ADJUST', view.productId, outbox, command.delta);
}

/** The event and the receipt of a stock change, in its transaction. */
async function commit(
  tx: EntityManager,
  command: CommandEnvelope,
  now: Date,
  type: string,
  productId: string,
  outbox: Outbox,
  availableChange: number,
): Promise<StepResult> {
  await outbox.flush(tx, now);
  await insertDoneReceipt(
    tx,
    {
      commandId: command.commandId,
      userId: command.userId,
      type,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      outcome: { kind: 'inventory', id: productId, result: 'updated' },
    },
    now,
  );
  return {
    answer: { kind: 'inventory', id: productId, result: 'updated' },
    touchedProducts: [productId],
    stockChanges: [{ productId, quantity: availableChange }],
    outboxRows: 1,
    outboxMessages: 0,
  };
}

export interface InventoryDrift {
  productId: string;
  reserved: number;
  heldByPendingOrders: number;
}

/**
 * Verifies SPEC §8.1 on live data: for every product, reserved = Σ quantities of its orders whose state
 * holds stock (PENDING).
 * Drift means a bug or a manual edit; it is reported (error log) rather than silently "fixed".
 */
export async function findInventoryDrift(em: EntityManager): Promise<InventoryDrift[]> {
  return query(em, inventoryDriftQuery());
}

/**
 * The PENDING orders first (their index), then their items by order id: joined instead, young
 * statistics made the planner read every item ever ordered, once a minute (test/db/housekeeping-cost.test.ts).
 */
export function inventoryDriftQuery() {
  return sql<InventoryDrift>`select i.product_id as "productId", i.reserved, coalesce(p.held, 0)::int as "heldByPendingOrders"
      from inventory i
      left join (select oi.product_id, sum(oi.quantity) as held from order_items oi
                 where oi.order_id = any(array(select o.id from orders o where ${orderTagged('holds-stock')}))
                 group by oi.product_id) p
        on p.product_id = i.product_id
      where i.reserved <> coalesce(p.held, 0)
      order by i.product_id limit 1000`;
}

/** The periodic job: PostgreSQL's reserved units against PENDING orders, then the stock gate against PostgreSQL. */
export async function reconcileInventory(ctx: AppContext, log: Logger) {
  const drift = await findInventoryDrift(ctx.orm.em.fork());
  if (drift.length > 0)
    log.error({ drift }, 'inventory drift: reserved differs from what pending orders hold');
  else log.debug('inventory reconciled: no drift');
  const gate = await reconcileStockGate(ctx, log);
  return {
    drift: drift.length,
    gateSettled: gate.settled,
    gateRepaired: gate.repaired.length,
    gateRebuilt: gate.rebuilt,
  };
}
