import { expectedAcknowledgements } from '../src/events/event-consumers';
import { OutboxRelay } from '../src/outbox/outbox-relay';
import type { BackgroundDefinition } from './runtime';

/** The outbox relay runs beside the queue workers: it delivers committed outbox rows to Redis. */
export const outboxRelay: BackgroundDefinition = {
  kind: 'background',
  start: async (ctx, log) => {
    const relay = new OutboxRelay(ctx, log, (events) => expectedAcknowledgements(ctx, events));
    relay.start();
    return { close: () => relay.stop() };
  },
};
