import { Migration } from '@mikro-orm/migrations';

/**
 * Delivery acknowledged by consumers: a delivered domain event remembers which consumers must apply
 * it (`consumers`) and how often it was delivered (`deliveries`, part of its job id); a one-row
 * watermark records up to when delivered events have been checked against processed_messages.
 * A webhook endpoint that keeps failing is paused (circuit breaker): its events wait in
 * webhook_backlog in PostgreSQL instead of as one Redis job each.
 */
export class Migration20261206110000_outbox_acknowledgements extends Migration {
  override name = 'Migration20261206110000_outbox_acknowledgements';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "outbox_events" add column "consumers" text[] null, add column "deliveries" int not null default 0;`,
    );
    this.addSql(
      `create index "outbox_events_sent_index" on "outbox_events" ("sent_at") where status = 'SENT' and queue = 'events';`,
    );
    this.addSql(
      `create table "outbox_ack_watermark" ("id" int not null, "checked_until" timestamptz not null, constraint "outbox_ack_watermark_pkey" primary key ("id"));`,
    );
    this.addSql(`insert into "outbox_ack_watermark" ("id", "checked_until") values (1, now());`);
    this.addSql(
      `alter table "webhooks" add column "failure_streak" int not null default 0, add column "paused_until" timestamptz null;`,
    );
    this.addSql(
      `create table "webhook_backlog" ("webhook_id" uuid not null, "event_id" varchar(120) not null, "event" jsonb not null, "held_at" timestamptz not null, constraint "webhook_backlog_pkey" primary key ("webhook_id", "event_id"));`,
    );
    this.addSql(
      `alter table "webhook_backlog" add constraint "webhook_backlog_webhook_id_foreign" foreign key ("webhook_id") references "webhooks" ("id");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table "webhook_backlog";`);
    this.addSql(`alter table "webhooks" drop column "failure_streak", drop column "paused_until";`);
    this.addSql(`drop table "outbox_ack_watermark";`);
    this.addSql(`drop index "outbox_events_sent_index";`);
    this.addSql(`alter table "outbox_events" drop column "consumers", drop column "deliveries";`);
  }
}
