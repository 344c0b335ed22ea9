import { offerEventsJob } from '../src/events/event-consumers';
import type { QueueWorkerDefinition } from './runtime';

/** The `events` queue: each job's domain events offered to their consumers (src/events). */
export const eventsWorker: QueueWorkerDefinition = {
  kind: 'queue',
  queue: 'events',
  process: (ctx, job, log) => offerEventsJob(ctx, job, log),
};
