import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../db/sql';
import { WriteBatch } from '../db/write-batch';
import { uuidv7 } from '../ids';
import { currentTraceContext } from '../tracing/tracing';
import type { DomainEventData, DomainEventType } from './domain-events';
import type { JobData, JobName, Mailbox } from './messages';
import type { QueueName } from './queues';

export interface OutboxRow {
  id: string;
  /** The trace the row continues, when not the writing transaction's (a member of a batch). */
  traceContext?: string | null;
  aggregateType: string;
  aggregateId: string;
  type: string;
  payload: unknown;
  queue: QueueName;
  jobId: string | null;
  deliverAt: Date | null;
  cancel: boolean;
}

/**
 * Collects what a transaction wants to say to the world and writes it, in that transaction, with one
 * INSERT. Nothing reaches Redis from inside a transaction that may still roll back: the relay
 * delivers the rows after commit.
 */
export class Outbox {
  readonly rows: OutboxRow[] = [];

  /** A domain event for the notification, statistics and webhook consumers. */
  event<T extends DomainEventType>(
    type: T,
    aggregate: { type: string; id: string },
    payload: DomainEventData<T>,
  ): void {
    this.push({ aggregateType: aggregate.type, aggregateId: aggregate.id, type, payload, queue: 'events' });
  }

  /** A message to an actor's mailbox; `deliverAt` makes it a delayed job (a timeout). */
  message<Q extends Mailbox, N extends JobName<Q>>(
    queue: Q,
    name: N,
    data: JobData<Q, N>,
    options: { jobId: string; aggregateId: string; deliverAt?: Date },
  ): void {
    this.push({
      aggregateType: queue,
      aggregateId: options.aggregateId,
      type: name,
      payload: data,
      queue,
      jobId: options.jobId,
      deliverAt: options.deliverAt ?? null,
    });
  }

  /** Adds another outbox's rows, as continuing `traceContext` (a batch member's own trace). */
  adopt(other: Outbox, traceContext: string | null): void {
    for (const row of other.rows) this.rows.push({ ...row, traceContext });
  }

  get size(): number {
    return this.rows.length;
  }

  /** Rows bound for an actor's mailbox (the rest are domain events). */
  get messageCount(): number {
    return this.rows.reduce((n, row) => (row.queue === 'events' ? n : n + 1), 0);
  }

  /** The rows' INSERT on its own; named, as its text is the same whatever the rows (arrays of them). */
  async flush(em: EntityManager, now: Date): Promise<void> {
    const batch = new WriteBatch();
    this.writeTo(batch, now);
    await batch.flush(em, { hot: true });
  }

  /** Adds the rows' single INSERT to a step's write batch (nothing when there are none). */
  writeTo(batch: WriteBatch, now: Date): void {
    if (this.rows.length === 0) return;
    const r = this.rows;
    const current = currentTraceContext();
    batch.add(
      sql`insert into outbox_events (id, aggregate_type, aggregate_id, type, payload, queue, job_id, deliver_at, cancel,
                                     status, attempts, next_attempt_at, created_at, trace_context)
          select id, aggregate_type, aggregate_id, type, payload, queue, job_id, deliver_at, cancel,
                 'PENDING', 0, ${now}, ${now}, trace_context
          from unnest(${r.map((x) => x.id)}::uuid[], ${r.map((x) => x.aggregateType)}::text[],
                      ${r.map((x) => x.aggregateId)}::text[], ${r.map((x) => x.type)}::text[],
                      ${r.map((x) => JSON.stringify(x.payload))}::jsonb[], ${r.map((x) => x.queue)}::text[],
                      ${r.map((x) => x.jobId)}::text[], ${r.map((x) => x.deliverAt)}::timestamptz[],
                      ${r.map((x) => x.cancel)}::boolean[],
                      ${r.map((x) => (x.traceContext === undefined ? current : x.traceContext))}::text[])
            as t(id, aggregate_type, aggregate_id, type, payload, queue, job_id, deliver_at, cancel, trace_context)`,
    );
  }

  private push(row: Omit<OutboxRow, 'id' | 'jobId' | 'deliverAt' | 'cancel'> & Partial<OutboxRow>): void {
    this.rows.push({ id: uuidv7(), jobId: null, deliverAt: null, cancel: false, ...row });
  }
}
