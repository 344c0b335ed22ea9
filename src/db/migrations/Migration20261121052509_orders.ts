import { Migration } from '@mikro-orm/migrations';

export class Migration20261121052509_orders extends Migration {
  override name = 'Migration20261121052509_orders';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "outbox_events" ("id" uuid not null, "aggregate_type" varchar(40) not null, "aggregate_id" varchar(80) not null, "type" varchar(60) not null, "payload" jsonb not null, "queue" varchar(40) not null, "job_id" varchar(120) null, "deliver_at" timestamptz null, "cancel" boolean not null default false, "status" text not null default 'PENDING', "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_error" text null, "claimed_at" timestamptz null, "created_at" timestamptz not null, "sent_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "outbox_events_due_index" on "outbox_events" ("next_attempt_at") where status in ('PENDING', 'FAILED');`,
    );
    this.addSql(
      `create index "outbox_events_processing_index" on "outbox_events" ("claimed_at") where status = 'PROCESSING';`,
    );
    this.addSql(
      `create index "outbox_events_aggregate_index" on "outbox_events" ("aggregate_id", "created_at");`,
    );
    this.addSql(
      `create index "outbox_events_status_created_index" on "outbox_events" ("status", "created_at");`,
    );

    this.addSql(
      `create table "processed_messages" ("consumer" varchar(40) not null, "message_id" varchar(120) not null, "processed_at" timestamptz not null, primary key ("consumer", "message_id"));`,
    );

    this.addSql(
      `create table "orders" ("id" uuid not null, "order_no" varchar(16) not null, "user_id" uuid not null, "status" text not null, "state" varchar(64) not null, "snapshot" jsonb not null, "machine_version" int not null, "subtotal" int not null, "discount" int not null default 0, "total" int not null, "refunded_amount" int not null default 0, "payment_id" uuid null, "user_coupon_id" uuid null, "coupon_code" varchar(40) null, "cancel_reason" text null, "expires_at" timestamptz not null, "paid_at" timestamptz null, "confirmed_at" timestamptz null, "cancelled_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, primary key ("id"));`,
    );
    this.addSql(`alter table "orders" add constraint "orders_order_no_unique" unique ("order_no");`);
    this.addSql(`create index "orders_user_created_index" on "orders" ("user_id", "created_at");`);
    this.addSql(
      `create index "orders_user_status_created_index" on "orders" ("user_id", "status", "created_at");`,
    );
    this.addSql(
      `create index "orders_pending_expires_index" on "orders" ("expires_at") where status = 'PENDING';`,
    );
    this.addSql(`create index "orders_paid_at_index" on "orders" ("paid_at") where status = 'PAID';`);
    this.addSql(`create index "orders_status_index" on "orders" ("status");`);

    this.addSql(
      `create table "payments" ("id" uuid not null, "order_id" uuid not null, "user_id" uuid not null, "method" text not null, "amount" int not null, "status" text not null default 'REQUESTED', "card_token" varchar(64) null, "idempotency_key" varchar(255) not null, "request_hash" varchar(64) not null, "failure_reason" varchar(40) null, "refunded_amount" int not null default 0, "attempts" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "payments_order_id_index" on "payments" ("order_id");`);
    this.addSql(`create index "payments_user_created_index" on "payments" ("user_id", "created_at");`);
    this.addSql(
      `alter table "payments" add constraint "payments_user_idempotency_key_unique" unique ("user_id", "idempotency_key");`,
    );

    this.addSql(
      `create table "refunds" ("id" uuid not null, "payment_id" uuid not null, "order_id" uuid not null, "user_id" uuid not null, "requested_by" uuid not null, "amount" int not null, "reason" varchar(500) null, "restock" boolean not null, "status" text not null default 'REQUESTED', "idempotency_key" varchar(255) not null, "request_hash" varchar(64) null, "failure_reason" varchar(200) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "refunds_payment_id_index" on "refunds" ("payment_id");`);
    this.addSql(`create index "refunds_order_id_index" on "refunds" ("order_id");`);
    this.addSql(
      `alter table "refunds" add constraint "refunds_requester_idempotency_key_unique" unique ("requested_by", "idempotency_key");`,
    );

    this.addSql(
      `create table "order_transitions" ("id" uuid not null, "order_id" uuid not null, "from_status" varchar(16) null, "to_status" varchar(16) not null, "from_state" varchar(64) null, "to_state" varchar(64) not null, "event" varchar(40) not null, "message_id" varchar(80) null, "at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "order_transitions_order_at_index" on "order_transitions" ("order_id", "at");`);

    this.addSql(
      `create table "order_items" ("id" uuid not null, "order_id" uuid not null, "product_id" uuid not null, "name" varchar(200) not null, "category" varchar(50) not null, "unit_price" int not null, "quantity" int not null, "line_total" int not null, primary key ("id"));`,
    );
    this.addSql(`create index "order_items_order_id_index" on "order_items" ("order_id");`);
    this.addSql(`create index "order_items_product_id_index" on "order_items" ("product_id");`);

    this.addSql(
      `create table "commands" ("id" varchar(80) not null, "user_id" uuid not null, "type" varchar(40) not null, "idempotency_key" varchar(255) null, "request_hash" varchar(64) null, "status" text not null, "http_status" int not null, "resource" varchar(200) null, "error" jsonb null, "created_at" timestamptz not null, "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "commands_user_id_index" on "commands" ("user_id");`);

    this.addSql(
      `alter table "outbox_events" add constraint "outbox_events_status_check" check ("status" in ('PENDING', 'PROCESSING', 'SENT', 'FAILED', 'ALERTED'));`,
    );

    this.addSql(
      `alter table "orders" add constraint "orders_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(
      `alter table "orders" add constraint "orders_money_sane" check (subtotal >= 0 and discount >= 0 and discount <= subtotal and total = subtotal - discount);`,
    );
    this.addSql(
      `alter table "orders" add constraint "orders_refund_within_total" check (refunded_amount >= 0 and refunded_amount <= total);`,
    );
    this.addSql(
      `alter table "orders" add constraint "orders_status_check" check ("status" in ('PENDING', 'PAID', 'CONFIRMED', 'CANCELLED'));`,
    );
    this.addSql(
      `alter table "orders" add constraint "orders_cancel_reason_check" check ("cancel_reason" in ('USER_CANCELLED', 'PAYMENT_FAILED', 'PAYMENT_TIMEOUT', 'REFUNDED'));`,
    );

    this.addSql(
      `alter table "payments" add constraint "payments_order_id_foreign" foreign key ("order_id") references "orders" ("id");`,
    );
    this.addSql(
      `alter table "payments" add constraint "payments_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(`alter table "payments" add constraint "payments_amount_positive" check (amount >= 0);`);
    this.addSql(
      `alter table "payments" add constraint "payments_refund_within_amount" check (refunded_amount >= 0 and refunded_amount <= amount);`,
    );
    this.addSql(
      `alter table "payments" add constraint "payments_method_check" check ("method" in ('CARD', 'BALANCE'));`,
    );
    this.addSql(
      `alter table "payments" add constraint "payments_status_check" check ("status" in ('REQUESTED', 'PROCESSING', 'COMPLETED', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED'));`,
    );

    this.addSql(
      `alter table "refunds" add constraint "refunds_payment_id_foreign" foreign key ("payment_id") references "payments" ("id");`,
    );
    this.addSql(`alter table "refunds" add constraint "refunds_amount_positive" check (amount > 0);`);
    this.addSql(
      `alter table "refunds" add constraint "refunds_status_check" check ("status" in ('REQUESTED', 'PROCESSING', 'REFUNDED', 'FAILED', 'MANUAL'));`,
    );

    this.addSql(
      `alter table "order_transitions" add constraint "order_transitions_order_id_foreign" foreign key ("order_id") references "orders" ("id");`,
    );

    this.addSql(
      `alter table "order_items" add constraint "order_items_order_id_foreign" foreign key ("order_id") references "orders" ("id");`,
    );
    this.addSql(
      `alter table "order_items" add constraint "order_items_product_id_foreign" foreign key ("product_id") references "products" ("id");`,
    );
    this.addSql(
      `alter table "order_items" add constraint "order_items_quantity_positive" check (quantity > 0);`,
    );
    this.addSql(
      `alter table "order_items" add constraint "order_items_line_total" check (line_total = unit_price * quantity);`,
    );

    this.addSql(
      `alter table "commands" add constraint "commands_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(
      `alter table "commands" add constraint "commands_status_check" check ("status" in ('QUEUED', 'DONE', 'FAILED'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "payments" drop constraint "payments_order_id_foreign";`);
    this.addSql(`alter table "order_transitions" drop constraint "order_transitions_order_id_foreign";`);
    this.addSql(`alter table "order_items" drop constraint "order_items_order_id_foreign";`);
    this.addSql(`alter table "refunds" drop constraint "refunds_payment_id_foreign";`);

    this.addSql(`drop table if exists "outbox_events" cascade;`);
    this.addSql(`drop table if exists "processed_messages" cascade;`);
    this.addSql(`drop table if exists "orders" cascade;`);
    this.addSql(`drop table if exists "payments" cascade;`);
    this.addSql(`drop table if exists "refunds" cascade;`);
    this.addSql(`drop table if exists "order_transitions" cascade;`);
    this.addSql(`drop table if exists "order_items" cascade;`);
    this.addSql(`drop table if exists "commands" cascade;`);
  }
}
