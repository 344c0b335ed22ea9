import type { AppContext } from '../context';
import type { Row } from '../db/database';
import { preparedStatement, query, run, sql } from '../db/sql';
import { isInfrastructureUnavailable } from '../errors/infrastructure-error';
import type { Logger } from '../logger';
import { outboxAlertedTotal } from '../messaging/event-metrics';
import { EVENTS_ONLY_WAKE, outboxWakeChannel, registerLocalRelay } from '../messaging/outbox-signal';
import { onChannelMessage, subscribeTo } from '../messaging/pubsub';
import { createRedis } from '../messaging/redis';
import { checkAcknowledgements } from './acknowledgements';
import { type Delivered, type ExpectedAcknowledgements, type OutboxRecord, publish } from './outbox-publish';
import { trimDeliveredRecords } from './outbox-trim';
import { WakeSignal } from './wake-signal';

const BATCH = 500;
/** A PROCESSING row older than this belongs to a relay that died mid-batch: it is offered again. */
export const RECLAIM_AFTER_S = 30;
/**
 * A delivered batch is marked SENT by the relay's next claim, in the same statement; with no wake-up
 * within this long, the next claim runs anyway (so the mark never waits for a poll interval).
 */
const MARK_WITHIN_MS = 25;

/**
 * Delivers committed outbox rows to Redis, at least once. Any number of relays may run: each claims
 * due rows with FOR UPDATE SKIP LOCKED, marks them PROCESSING, publishes them (job id = the row's job
 * id or its own id, so a repeat is deduplicated by BullMQ, or by PostgreSQL for jobs removed on
 * completion) and marks them SENT — in the statement of its next claim, so a pass under load costs one
 * statement, not two. Until that mark they stay PROCESSING: a relay that dies first leaves them to be
 * reclaimed and delivered again (RECLAIM_AFTER_S), exactly as one that died before a separate mark.
 * A row that cannot be published backs off exponentially and, after OUTBOX_MAX_ATTEMPTS, is ALERTED
 * for an operator. Redis being down is not the row's fault: then nothing is counted and the relay waits.
 * Domain events committed close together are gathered into one claim and one `events` job (see run).
 */
export class OutboxRelay {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wake = new WakeSignal();
  private readonly maintenanceWake = new WakeSignal();
  private readonly subscriber;
  /** Published rows whose SENT mark rides in the next claim. */
  private unmarked: Delivered[] = [];
  /** Until when passes leave domain events for later (0: they take them); see run. */
  private eventsHeldUntil = 0;
  private unregisterLocal: (() => void) | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly log: Logger,
    private readonly acknowledgers: ExpectedAcknowledgements = async (events) => events.map(() => []),
  ) {
    this.subscriber = createRedis(ctx.config, 'subscriber', `${ctx.config.redisPrefix}:outbox-relay`);
    // Without the wake-ups the relay still delivers, on its poll interval only.
    subscribeTo(this.subscriber, outboxWakeChannel(ctx.config.redisPrefix)).catch((err) =>
      log.warn(
        { err: String(err) },
        'outbox relay not subscribed to wake-ups; delivering on its poll interval',
      ),
    );
    onChannelMessage(this.subscriber, (_channel, message) => this.onWake(message));
  }

  private onWake(message: string): void {
    // The pass at the end of the gathering spell claims these events: no claim now that finds nothing.
    if (message === EVENTS_ONLY_WAKE && Date.now() < this.eventsHeldUntil) return;
    this.wake.signal();
  }

  start(): void {
    this.running = true;
    this.loops = [this.run(), this.maintain()];
    // Commits in this process wake this relay in memory; other processes' still over Redis.
    this.unregisterLocal = registerLocalRelay(this.ctx, (message) => this.onWake(message));
  }

  async stop(): Promise<void> {
    // From here on, commits of this process wake the relays of other processes (over Redis).
    this.unregisterLocal?.();
    this.running = false;
    this.wake.signal();
    this.maintenanceWake.signal();
    await Promise.all(this.loops);
    // A last pass: what this process committed up to now (a wake-up that came as the loop ended, the
    // rows of jobs that drained before) goes out with this relay rather than waiting for another one.
    await this.deliverBatch().catch((err) =>
      this.log.warn(
        { err: String(err) },
        'outbox relay could not make its last pass; rows wait for another relay',
      ),
    );
    await this.markSent(this.unmarked).catch((err) =>
      this.log.warn({ err: String(err) }, 'outbox rows left PROCESSING at stop; they will be reclaimed'),
    );
    this.unmarked = [];
    this.subscriber.disconnect();
  }

  /**
   * Deliveries: a pass on every wake-up (or poll), nothing else in the way. Domain events are gathered:
   * after a pass that claimed some, the next OUTBOX_GATHER_MS of passes leave them (actor messages go
   * at once), so the commits of that spell share one `events` job; a pass runs when the spell ends.
   * During the spell only a wake-up about actor messages starts a pass (one about events alone would
   * claim nothing). After a pass that claimed none, an event goes out on the first wake-up.
   */
  private async run(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      const takeEvents = started >= this.eventsHeldUntil;
      let claimed = { rows: 0, events: 0 };
      let failed = false;
      // Rows committed before this point are found by the claim below; later ones wake the next round.
      this.wake.clear();
      try {
        claimed = await this.deliverBatch(takeEvents);
      } catch (error) {
        this.log.warn({ err: String(error) }, 'outbox relay cannot reach a dependency; waiting');
        failed = true;
        this.wake.clear();
      }
      if (takeEvents)
        this.eventsHeldUntil = claimed.events > 0 ? started + this.ctx.config.outboxGatherMs : 0;
      const poll = this.ctx.config.outboxPollIntervalMs;
      let pause = failed ? 1000 : this.unmarked.length > 0 ? Math.min(poll, MARK_WITHIN_MS) : poll;
      // Events held by the spell go out when it ends, whether or not a wake-up comes.
      if (this.eventsHeldUntil > 0 && !failed)
        pause = Math.min(pause, Math.max(0, this.eventsHeldUntil - Date.now()));
      if (claimed.rows < BATCH && this.running) await this.wake.sleep(pause);
    }
  }

  /**
   * The acknowledgement check and housekeeping, on their own clock: a slow pass of either (they scan
   * what was sent since the last one, and delete old rows) never holds up a delivery.
   */
  private async maintain(): Promise<void> {
    let lastHousekeeping = 0;
    let lastAckCheck = Date.now();
    // A quarter of the deadline: an unacknowledged event is found at most ~1.25 deadlines after delivery.
    const ackCheckEvery = Math.min(5000, Math.max(100, this.ctx.config.outboxAckDeadlineMs / 4));
    while (this.running) {
      let failed = false;
      try {
        if (Date.now() - lastHousekeeping > 5000) {
          // Reclaimed rows are due at once: the delivery loop is told.
          if ((await this.housekeeping()) > 0) this.wake.signal();
          lastHousekeeping = Date.now();
        }
        if (Date.now() - lastAckCheck > ackCheckEvery) {
          const pass = await checkAcknowledgements(this.ctx, this.log);
          // After a large loss (a Redis restart under load) the next batch is checked at once.
          lastAckCheck = pass.more ? 0 : Date.now();
        }
      } catch (error) {
        this.log.warn({ err: String(error) }, 'outbox relay maintenance cannot reach a dependency; waiting');
        failed = true;
      }
      const due = Math.min(lastAckCheck + ackCheckEvery, lastHousekeeping + 5000) - Date.now();
      if (this.running) await this.maintenanceWake.sleep(failed ? 1000 : Math.max(10, due + 1));
    }
  }

  /**
   * Marks the previous batch SENT, claims and publishes the next (with its domain events or not);
   * returns how many rows it claimed, and how many of them were domain events.
   */
  async deliverBatch(takeEvents = true): Promise<{ rows: number; events: number }> {
    const rows = await this.claim(this.unmarked, takeEvents);
    this.unmarked = [];
    const claimed = { rows: rows.length, events: rows.filter((r) => r.queue === 'events').length };
    if (rows.length === 0) return claimed;
    try {
      this.unmarked = await publish(this.ctx, rows, this.acknowledgers);
    } catch (error) {
      if (isInfrastructureUnavailable(error)) {
        await this.release(rows);
        throw error;
      }
      await this.publishOneByOne(rows);
    }
    return claimed;
  }

  /** One statement: the SENT mark of `delivered` (see markSent) and the claim of the next due rows. */
  private async claim(delivered: Delivered[], takeEvents: boolean): Promise<OutboxRecord[]> {
    return query<OutboxRecord>(
      this.ctx.orm.em.fork(),
      preparedStatement(sql`with marked as (${markSentStatement(delivered)})
          update outbox_events set status = 'PROCESSING', claimed_at = now()
          where id in (select id from outbox_events
                       where status in ('PENDING', 'FAILED') and next_attempt_at <= now()
                         and (${takeEvents}::boolean or queue <> 'events')
                       order by next_attempt_at limit ${BATCH} for update skip locked)
          returning id, aggregate_type, aggregate_id, type, payload, queue, job_id, deliver_at, cancel, attempts,
                    deliveries, created_at, trace_context`),
    );
  }

  /** After an unexplained batch failure: find the rows that really fail, count attempts only for them. */
  private async publishOneByOne(rows: OutboxRecord[]): Promise<void> {
    for (const row of rows) {
      try {
        await this.markSent(await publish(this.ctx, [row], this.acknowledgers));
      } catch (error) {
        if (isInfrastructureUnavailable(error)) {
          await this.release([row]);
          throw error;
        }
        await this.markFailed(row, error);
      }
    }
  }

  private async markSent(delivered: Delivered[]): Promise<void> {
    if (delivered.length > 0) await run(this.ctx.orm.em.fork(), markSentStatement(delivered));
  }

  /** Back to the queue of due rows without counting an attempt (the dependency was down). */
  private async release(rows: OutboxRecord[]): Promise<void> {
    await run(
      this.ctx.orm.em.fork(),
      sql`update outbox_events set status = 'PENDING', claimed_at = null, next_attempt_at = now() + interval '1 second'
          where id = any(${rows.map((r) => r.id)}::uuid[]) and status = 'PROCESSING'`,
    );
  }

  private async markFailed(row: OutboxRecord, error: unknown): Promise<void> {
    const attempts = row.attempts + 1;
    const alerted = attempts >= this.ctx.config.outboxMaxAttempts;
    const backoffMs = Math.min(2 ** attempts * 500, 10 * 60_000);
    await run(
      this.ctx.orm.em.fork(),
      sql`update outbox_events set status = ${alerted ? 'ALERTED' : 'FAILED'}, attempts = ${attempts},
                 claimed_at = null, last_error = ${String(error).slice(0, 2000)},
                 next_attempt_at = now() + ${`${backoffMs} milliseconds`}::interval
          where id = ${row.id}`,
    );
    const details = { outboxId: row.id, type: row.type, queue: row.queue, attempts, err: String(error) };
    if (alerted) {
      outboxAlertedTotal.inc({ queue: row.queue });
      this.log.error(details, 'outbox event ALERTED: delivery keeps failing, an operator must look');
    } else this.log.warn(details, 'outbox event delivery failed; will retry');
  }

  /**
   * Reclaims rows of relays that died mid-batch (returns how many) and trims old SENT rows. A reclaim counts as an
   * attempt: a row that kills every relay that takes it must end ALERTED, not loop forever.
   */
  private async housekeeping(): Promise<number> {
    const em = this.ctx.orm.em.fork();
    const max = this.ctx.config.outboxMaxAttempts;
    const reclaimed = await query<Row<'outbox_events', 'id' | 'type' | 'queue' | 'status' | 'attempts'>>(
      em,
      sql`update outbox_events
          set status = case when attempts + 1 >= ${max} then 'ALERTED' else 'PENDING' end,
              attempts = attempts + 1, claimed_at = null, next_attempt_at = now(),
              last_error = 'abandoned while PROCESSING by a relay that stopped (reclaimed)'
          where status = 'PROCESSING' and claimed_at < now() - ${`${RECLAIM_AFTER_S} seconds`}::interval
          returning id, type, queue, status, attempts`,
    );
    if (reclaimed.length > 0) {
      this.log.warn({ reclaimed: reclaimed.length }, 'reclaimed outbox rows abandoned by a dead relay');
    }
    for (const row of reclaimed.filter((r) => r.status === 'ALERTED')) {
      outboxAlertedTotal.inc({ queue: row.queue });
      this.log.error(
        { outboxId: row.id, type: row.type, queue: row.queue, attempts: row.attempts },
        'outbox event ALERTED: relays kept dying while delivering it, an operator must look',
      );
    }
    await trimDeliveredRecords(em);
    return reclaimed.length;
  }
}

/**
 * Marks delivered rows SENT with their job id and, for a domain event, the consumers that must
 * acknowledge it — one statement for a batch, whatever it carried. Only rows still PROCESSING: one
 * reclaimed meanwhile (its relay looked dead) is delivered again rather than marked.
 */
function markSentStatement(delivered: Delivered[]) {
  return sql`update outbox_events o
    set status = 'SENT', sent_at = now(), claimed_at = null, deliveries = o.deliveries + 1,
        job_id = coalesce(t.job_id, o.job_id),
        consumers = case when t.consumers is null then null else string_to_array(t.consumers, ',') end
    from unnest(${delivered.map((d) => d.id)}::uuid[], ${delivered.map((d) => d.jobId)}::text[],
                ${delivered.map((d) => d.consumers?.join(',') ?? null)}::text[]) as t(id, job_id, consumers)
    where o.id = t.id and o.status = 'PROCESSING'`;
}
