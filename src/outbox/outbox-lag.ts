import type { EntityManager } from '@mikro-orm/postgresql';
import { joinByHash } from '../db/planner';
import { query, sql } from '../db/sql';
import { EVENT_CONSUMERS } from '../events/event-consumers';

export interface ConsumerLag {
  consumer: string;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The consumers that record applied events in processed_messages (the live-status push does not). */
const RECORDING_CONSUMERS = EVENT_CONSUMERS.filter((c) => c.acknowledges).map((c) => c.name);

/**
 * Outbox lag per consumer from the database, so it covers every process: for domain events committed
 * since `since`, the time from the outbox row's creation (the committing step's clock) to the
 * consumer's processed_messages row (written in the transaction that applied it). Only events a
 * consumer handles count for it. The benchmark reads this after a run (GET /admin/outbox/lag).
 */
export async function outboxLagByConsumer(em: EntityManager, since: Date): Promise<ConsumerLag[]> {
  return em.transactional(async (tx) => {
    // With young statistics the planner chose a nested loop over both tables: 18 million row pairs
    // (3.7 s) for 3,330 events after 15 s of checkouts.
    await joinByHash(tx);
    return query(tx, outboxLagQuery(since));
  });
}

export function outboxLagQuery(since: Date) {
  return sql<ConsumerLag>`select pm.consumer, count(*)::int as events,
             percentile_cont(0.5) within group (order by lag_ms)::float8 as "p50Ms",
             percentile_cont(0.99) within group (order by lag_ms)::float8 as "p99Ms",
             max(lag_ms)::float8 as "maxMs"
      from (select pm.consumer, greatest(0, extract(epoch from pm.processed_at - e.created_at) * 1000) as lag_ms
            from outbox_events e
            join processed_messages pm on pm.message_id = e.id::text and pm.consumer = any(${RECORDING_CONSUMERS}::text[])
            where e.queue = 'events' and e.created_at >= ${since}) pm
      group by pm.consumer order by pm.consumer`;
}
