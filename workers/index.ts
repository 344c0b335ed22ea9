import type { AppContext } from '../src/context';
import { commandSweeper } from './command-sweeper.worker';
import { couponWorker } from './coupon.worker';
import { eventsWorker } from './events.worker';
import { inventoryWorker } from './inventory.worker';
import { orderWorker } from './order.worker';
import { outboxRelay } from './outbox-relay.worker';
import { paymentWorker } from './payment.worker';
import { type RunningWorker, startWorker, type WorkerDefinition } from './runtime';
import { webhooksWorker } from './webhooks.worker';

/**
 * Every worker a process can run, by name. `WORKERS=all` starts them all; `WORKERS=order,outbox`
 * a selection; `WORKERS=none` none (an API-only process). Any number of processes may run any of
 * them at once: nothing depends on there being one.
 */
export const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {
  order: orderWorker,
  inventory: inventoryWorker,
  payment: paymentWorker,
  outbox: outboxRelay,
  coupon: couponWorker,
  events: eventsWorker,
  webhooks: webhooksWorker,
  commands: commandSweeper,
};

export interface RunningWorkers {
  names: string[];
  close: () => Promise<void>;
}

export function selectWorkers(selection: string): string[] {
  if (selection === 'none') return [];
  const names =
    selection === 'all' ? Object.keys(WORKER_DEFINITIONS) : selection.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(n in WORKER_DEFINITIONS));
  if (unknown.length > 0) {
    throw new Error(
      `WORKERS names unknown workers: ${unknown.join(', ')} (known: ${Object.keys(WORKER_DEFINITIONS).join(', ')})`,
    );
  }
  return names;
}

export async function startWorkers(ctx: AppContext, selection: string): Promise<RunningWorkers> {
  const running: RunningWorker[] = [];
  for (const name of selectWorkers(selection))
    running.push(await startWorker(ctx, name, WORKER_DEFINITIONS[name]!));
  return {
    names: running.map((w) => w.name),
    // Graceful: every worker finishes what it holds before the connections go. The queue workers
    // first, then what runs beside them (the outbox relay): the rows the last jobs commit are still
    // delivered by this process, not left for another relay or the next start.
    close: async () => {
      const besides = running.filter((w) => WORKER_DEFINITIONS[w.name]?.kind === 'background');
      await Promise.all(running.filter((w) => !besides.includes(w)).map((w) => w.close()));
      await Promise.all(besides.map((w) => w.close()));
    },
  };
}
