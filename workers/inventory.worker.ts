import {
  reconcileInventory,
  runRestock,
  runStockAdjustment,
  scheduleInventoryReconciliation,
} from '../src/catalog/inventory-actor';
import { INVENTORY_RECONCILE } from '../src/messaging/messages';
import { parseMailboxJob } from '../src/messaging/parse-job';
import type { QueueWorkerDefinition } from './runtime';

/** The inventory actor's mailbox: restocks and corrections, and the periodic reconciliation. */
export const inventoryWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'inventory',
  onStart: scheduleInventoryReconciliation,
  refreshEveryMs: () => 60_000,
  process: async (ctx, job, log) => {
    const message = parseMailboxJob('inventory', job);
    switch (message?.name) {
      case 'RESTOCK':
        return runRestock(ctx, job, message.data, log);
      case 'ADJUST':
        return runStockAdjustment(ctx, job, message.data, log);
      case INVENTORY_RECONCILE:
        return reconcileInventory(ctx, log);
      default:
        log.error({ name: job.name }, 'unknown inventory message; dropped');
        return 'unknown';
    }
  },
};
