import type { EntityManager } from '@mikro-orm/postgresql';
import { findRowsByIndex } from '../db/planner';
import { run, sql } from '../db/sql';

/** SENT outbox rows and processed-message records are kept this long (audit, redelivery guard). */
const SENT_RETENTION_DAYS = 7;
const RETENTION = `${SENT_RETENTION_DAYS} days`;
const OUTBOX_ROWS_PER_PASS = 1000;
const PROCESSED_ROWS_PER_PASS = 5000;

/**
 * At most one pass's worth of SENT rows past retention. Found through (status, created_at) from the
 * oldest: a row is sent after it is created, so every one due is among those created before the
 * cut-off, and a pass reads only those — not every SENT row kept, as a filter on sent_at alone did
 * (a week of rows, every few seconds).
 */
export const trimSentOutboxRows = () =>
  sql`delete from outbox_events where id in (
        select id from outbox_events
        where status = 'SENT' and created_at < now() - ${RETENTION}::interval
          and sent_at < now() - ${RETENTION}::interval
        order by created_at limit ${OUTBOX_ROWS_PER_PASS})`;

/** Processed-message records past retention, oldest first through the processed_at index. */
export const trimProcessedMessages = () =>
  sql`delete from processed_messages where (consumer, message_id) in (
        select consumer, message_id from processed_messages
        where processed_at < now() - ${RETENTION}::interval
        order by processed_at limit ${PROCESSED_ROWS_PER_PASS})`;

/** One housekeeping pass of both; each deletes a bounded number of rows and reads about as many. */
export async function trimDeliveredRecords(em: EntityManager): Promise<void> {
  await em.transactional(async (tx) => {
    await findRowsByIndex(tx);
    await run(tx, trimSentOutboxRows());
    // Processed-message ids only need to outlive the redeliveries they guard against (hours at most).
    await run(tx, trimProcessedMessages());
  });
}
