import { Migration } from '@mikro-orm/migrations';

export class Migration20261121053439_coupons extends Migration {
  override name = 'Migration20261121053439_coupons';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "coupons" ("id" uuid not null, "code" varchar(40) not null, "name" varchar(100) not null, "discount_type" text not null, "discount_value" int not null, "max_discount" int null, "min_order_amount" int not null default 0, "total_quantity" int not null, "issued_count" int not null default 0, "valid_from" timestamptz not null, "valid_until" timestamptz not null, "status" text not null, "created_by" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "coupons" add constraint "coupons_code_unique" unique ("code");`);
    this.addSql(`create index "coupons_created_by_index" on "coupons" ("created_by");`);
    this.addSql(`create index "coupons_created_at_index" on "coupons" ("created_at");`);
    this.addSql(`create index "coupons_status_created_at_index" on "coupons" ("status", "created_at");`);
    this.addSql(
      `create index "coupons_open_valid_until_index" on "coupons" ("valid_until") where status in ('CREATED', 'ACTIVE', 'EXHAUSTED', 'SUSPENDED');`,
    );
    this.addSql(
      `create index "coupons_created_valid_from_index" on "coupons" ("valid_from") where status = 'CREATED';`,
    );

    this.addSql(
      `create table "user_coupons" ("id" uuid not null, "coupon_id" uuid not null, "user_id" uuid not null, "status" text not null default 'ISSUED', "order_id" uuid null, "issued_at" timestamptz not null, "used_at" timestamptz null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "user_coupons_user_issued_at_index" on "user_coupons" ("user_id", "issued_at");`,
    );
    this.addSql(
      `create index "user_coupons_order_id_index" on "user_coupons" ("order_id") where order_id is not null;`,
    );
    this.addSql(
      `alter table "user_coupons" add constraint "user_coupons_coupon_user_unique" unique ("coupon_id", "user_id");`,
    );

    this.addSql(
      `alter table "coupons" add constraint "coupons_created_by_foreign" foreign key ("created_by") references "users" ("id");`,
    );
    this.addSql(
      `alter table "coupons" add constraint "coupons_issued_within_quantity" check (issued_count >= 0 and issued_count <= total_quantity and total_quantity >= 1 and total_quantity <= 1000000);`,
    );
    this.addSql(
      `alter table "coupons" add constraint "coupons_discount_sane" check (discount_value > 0 and (discount_type <> 'PERCENTAGE' or discount_value <= 100) and (max_discount is null or max_discount > 0) and min_order_amount >= 0);`,
    );
    this.addSql(
      `alter table "coupons" add constraint "coupons_window_sane" check (valid_until > valid_from);`,
    );
    this.addSql(
      `alter table "coupons" add constraint "coupons_discount_type_check" check ("discount_type" in ('PERCENTAGE', 'FIXED'));`,
    );
    this.addSql(
      `alter table "coupons" add constraint "coupons_status_check" check ("status" in ('CREATED', 'ACTIVE', 'EXHAUSTED', 'EXPIRED', 'SUSPENDED', 'CANCELLED'));`,
    );

    this.addSql(
      `alter table "user_coupons" add constraint "user_coupons_coupon_id_foreign" foreign key ("coupon_id") references "coupons" ("id");`,
    );
    this.addSql(
      `alter table "user_coupons" add constraint "user_coupons_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(
      `alter table "user_coupons" add constraint "user_coupons_used_by_an_order" check (status <> 'USED' or (order_id is not null and used_at is not null));`,
    );
    this.addSql(
      `alter table "user_coupons" add constraint "user_coupons_status_check" check ("status" in ('ISSUED', 'USED', 'EXPIRED', 'REFUNDED'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "user_coupons" drop constraint "user_coupons_coupon_id_foreign";`);

    this.addSql(`drop table if exists "coupons" cascade;`);
    this.addSql(`drop table if exists "user_coupons" cascade;`);
  }
}
