import { Migration } from '@mikro-orm/migrations';

export class Migration20261121051105_initial extends Migration {
  override name = 'Migration20261121051105_initial';

  override up(): void | Promise<void> {
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(
      `create table "users" ("id" uuid not null, "email" varchar(254) not null, "name" varchar(100) not null, "password_hash" text not null, "role" text not null default 'BUYER', "business_number" varchar(12) null, "intro" text null, "admin_code" varchar(40) null, "balance" bigint not null default '0', "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(
      `create table "products" ("id" uuid not null, "seller_id" uuid not null, "name" varchar(200) not null, "description" text not null default '', "price" int not null, "category" varchar(50) not null, "brand" varchar(100) not null default '', "status" text not null default 'ON_SALE', "rating_count" int not null default 0, "rating_sum" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "products_seller_id_index" on "products" ("seller_id");`);
    this.addSql(`create index "products_status_created_at_index" on "products" ("status", "created_at");`);
    this.addSql(
      `create index "products_category_created_at_index" on "products" ("category", "created_at");`,
    );
    this.addSql(`create index "products_brand_created_at_index" on "products" ("brand", "created_at");`);
    this.addSql(`create index "products_price_index" on "products" ("price");`);
    this.addSql(`create index "products_created_at_index" on "products" ("created_at");`);
    this.addSql(`create index "products_name_trgm_index" on "products" using gin ("name" gin_trgm_ops);`);
    this.addSql(`create index "products_brand_trgm_index" on "products" using gin ("brand" gin_trgm_ops);`);

    this.addSql(
      `create table "inventory" ("product_id" uuid not null, "stock" int not null default 0, "reserved" int not null default 0, "sold" int not null default 0, "version" int not null default 1, "updated_at" timestamptz not null, primary key ("product_id"));`,
    );
    this.addSql(`create index "inventory_sold_index" on "inventory" ("sold");`);

    this.addSql(
      `create table "cart_items" ("user_id" uuid not null, "product_id" uuid not null, "quantity" int not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("user_id", "product_id"));`,
    );
    this.addSql(`create index "cart_items_product_id_index" on "cart_items" ("product_id");`);

    this.addSql(
      `create table "balance_transactions" ("id" uuid not null, "user_id" uuid not null, "kind" text not null, "amount" bigint not null, "balance_after" bigint not null, "reference_id" uuid null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "balance_transactions_user_id_index" on "balance_transactions" ("user_id");`);
    this.addSql(
      `alter table "balance_transactions" add constraint "balance_transactions_reference_unique" unique ("kind", "reference_id");`,
    );

    this.addSql(`alter table "users" add constraint "users_balance_non_negative" check (balance >= 0);`);
    this.addSql(
      `alter table "users" add constraint "users_role_check" check ("role" in ('BUYER', 'SELLER', 'ADMIN'));`,
    );

    this.addSql(
      `alter table "products" add constraint "products_seller_id_foreign" foreign key ("seller_id") references "users" ("id");`,
    );
    this.addSql(`alter table "products" add constraint "products_price_non_negative" check (price >= 0);`);
    this.addSql(
      `alter table "products" add constraint "products_rating_sane" check (rating_count >= 0 and rating_sum >= 0);`,
    );
    this.addSql(
      `alter table "products" add constraint "products_status_check" check ("status" in ('ON_SALE', 'SOLD_OUT', 'DISCONTINUED'));`,
    );

    this.addSql(
      `alter table "inventory" add constraint "inventory_product_id_foreign" foreign key ("product_id") references "products" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "inventory" add constraint "inventory_reserved_within_stock" check (0 <= reserved and reserved <= stock);`,
    );
    this.addSql(`alter table "inventory" add constraint "inventory_sold_non_negative" check (sold >= 0);`);

    this.addSql(
      `alter table "cart_items" add constraint "cart_items_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "cart_items" add constraint "cart_items_product_id_foreign" foreign key ("product_id") references "products" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "cart_items" add constraint "cart_items_quantity_range" check (quantity >= 1 and quantity <= 999);`,
    );

    this.addSql(
      `alter table "balance_transactions" add constraint "balance_transactions_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(
      `alter table "balance_transactions" add constraint "balance_transactions_after_non_negative" check (balance_after >= 0);`,
    );
    this.addSql(
      `alter table "balance_transactions" add constraint "balance_transactions_kind_check" check ("kind" in ('CHARGE', 'PAYMENT', 'REFUND'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "products" drop constraint "products_seller_id_foreign";`);
    this.addSql(`alter table "cart_items" drop constraint "cart_items_user_id_foreign";`);
    this.addSql(`alter table "balance_transactions" drop constraint "balance_transactions_user_id_foreign";`);
    this.addSql(`alter table "inventory" drop constraint "inventory_product_id_foreign";`);
    this.addSql(`alter table "cart_items" drop constraint "cart_items_product_id_foreign";`);

    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "products" cascade;`);
    this.addSql(`drop table if exists "inventory" cascade;`);
    this.addSql(`drop table if exists "cart_items" cascade;`);
    this.addSql(`drop table if exists "balance_transactions" cascade;`);
  }
}
