import { Migration } from '@mikro-orm/migrations';

export class Migration20261121055408_events extends Migration {
  override name = 'Migration20261121055408_events';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "sales_lines" ("order_id" uuid not null, "product_id" uuid not null, "category" varchar(50) not null, "day" date not null, "paid_at" timestamptz not null, "units" int not null, "revenue" bigint not null, primary key ("order_id", "product_id"));`,
    );
    this.addSql(`create index "sales_lines_paid_at_index" on "sales_lines" ("paid_at");`);
    this.addSql(`create index "sales_lines_day_index" on "sales_lines" ("day", "category");`);

    this.addSql(
      `create table "notifications" ("id" uuid not null, "user_id" uuid not null, "type" text not null, "title" varchar(200) not null, "body" text not null, "order_id" uuid null, "event_id" varchar(120) not null, "read_at" timestamptz null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "notifications_user_created_index" on "notifications" ("user_id", "created_at");`,
    );
    this.addSql(
      `create index "notifications_user_unread_index" on "notifications" ("user_id", "created_at") where read_at is null;`,
    );
    this.addSql(
      `alter table "notifications" add constraint "notifications_user_type_event_unique" unique ("user_id", "type", "event_id");`,
    );

    this.addSql(
      `create table "webhooks" ("id" uuid not null, "url" varchar(2048) not null, "events" text[] not null, "secret" varchar(256) not null, "active" boolean not null default true, "consecutive_failures" int not null default 0, "disabled_at" timestamptz null, "created_by" uuid not null, "created_at" timestamptz not null, "deleted_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "webhooks_active_index" on "webhooks" ("active") where deleted_at is null;`);

    this.addSql(
      `create table "webhook_deliveries" ("id" uuid not null, "webhook_id" uuid not null, "event_id" varchar(120) not null, "event_type" varchar(60) not null, "attempt" int not null, "status_code" int null, "error" text null, "duration_ms" int not null, "outcome" text not null, "at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "webhook_deliveries_webhook_at_index" on "webhook_deliveries" ("webhook_id", "at");`,
    );
    this.addSql(`create index "webhook_deliveries_event_index" on "webhook_deliveries" ("event_id");`);

    this.addSql(
      `alter table "sales_lines" add constraint "sales_lines_order_id_foreign" foreign key ("order_id") references "orders" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "sales_lines" add constraint "sales_lines_product_id_foreign" foreign key ("product_id") references "products" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "sales_lines" add constraint "sales_lines_positive" check (units > 0 and revenue >= 0);`,
    );

    this.addSql(
      `alter table "notifications" add constraint "notifications_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(
      `alter table "notifications" add constraint "notifications_type_check" check ("type" in ('ORDER_CREATED', 'PAYMENT_SUCCEEDED', 'PAYMENT_FAILED', 'ORDER_CANCELLED', 'ORDER_EXPIRED', 'REFUND_COMPLETED', 'COUPON_ISSUED', 'COUPON_EXPIRING'));`,
    );

    this.addSql(
      `alter table "webhooks" add constraint "webhooks_created_by_foreign" foreign key ("created_by") references "users" ("id");`,
    );

    this.addSql(
      `alter table "webhook_deliveries" add constraint "webhook_deliveries_webhook_id_foreign" foreign key ("webhook_id") references "webhooks" ("id");`,
    );
    this.addSql(
      `alter table "webhook_deliveries" add constraint "webhook_deliveries_outcome_check" check ("outcome" in ('DELIVERED', 'RETRYING', 'ALERTED', 'ABANDONED'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "webhook_deliveries" drop constraint "webhook_deliveries_webhook_id_foreign";`);

    this.addSql(`drop table if exists "sales_lines" cascade;`);
    this.addSql(`drop table if exists "notifications" cascade;`);
    this.addSql(`drop table if exists "webhooks" cascade;`);
    this.addSql(`drop table if exists "webhook_deliveries" cascade;`);
  }
}
