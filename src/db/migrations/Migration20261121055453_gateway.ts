import { Migration } from '@mikro-orm/migrations';

export class Migration20261121055453_gateway extends Migration {
  override name = 'Migration20261121055453_gateway';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "gateway_attempts" ("operation" varchar(80) not null, "attempts" int not null, "updated_at" timestamptz not null, primary key ("operation"));`,
    );

    this.addSql(
      `create table "gateway_charges" ("id" uuid not null, "payment_id" uuid not null, "order_id" uuid not null, "refund_id" uuid null, "kind" text not null, "amount" int not null, "card_token" varchar(64) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "gateway_charges_payment_created_index" on "gateway_charges" ("payment_id", "created_at");`,
    );
    this.addSql(
      `create index "gateway_charges_order_created_index" on "gateway_charges" ("order_id", "created_at");`,
    );
    this.addSql(
      `create unique index "gateway_charges_one_capture_per_payment" on "gateway_charges" ("payment_id") where kind = 'CAPTURE';`,
    );
    this.addSql(
      `create unique index "gateway_charges_one_refund_per_refund" on "gateway_charges" ("refund_id") where kind = 'REFUND';`,
    );

    this.addSql(`alter table "refunds" add "attempts" int not null default 0;`);

    this.addSql(
      `alter table "gateway_charges" add constraint "gateway_charges_amount_positive" check (amount > 0);`,
    );
    this.addSql(
      `alter table "gateway_charges" add constraint "gateway_charges_refund_id_for_refunds" check ((kind = 'REFUND') = (refund_id is not null));`,
    );
    this.addSql(
      `alter table "gateway_charges" add constraint "gateway_charges_kind_check" check ("kind" in ('CAPTURE', 'REFUND'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "gateway_attempts" cascade;`);
    this.addSql(`drop table if exists "gateway_charges" cascade;`);

    this.addSql(`alter table "refunds" drop column "attempts";`);
  }
}
