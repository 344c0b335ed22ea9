import { Migration } from '@mikro-orm/migrations';

export class Migration20261121054740_reviews extends Migration {
  override name = 'Migration20261121054740_reviews';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "reviews" ("id" uuid not null, "product_id" uuid not null, "user_id" uuid not null, "order_item_id" uuid not null, "rating" smallint not null, "comment" text null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "reviews" add constraint "reviews_order_item_id_unique" unique ("order_item_id");`,
    );
    this.addSql(`create index "reviews_product_created_index" on "reviews" ("product_id", "created_at");`);

    this.addSql(
      `alter table "reviews" add constraint "reviews_product_id_foreign" foreign key ("product_id") references "products" ("id");`,
    );
    this.addSql(
      `alter table "reviews" add constraint "reviews_user_id_foreign" foreign key ("user_id") references "users" ("id");`,
    );
    this.addSql(
      `alter table "reviews" add constraint "reviews_order_item_id_foreign" foreign key ("order_item_id") references "order_items" ("id");`,
    );
    this.addSql(
      `alter table "reviews" add constraint "reviews_rating_range" check (rating >= 1 and rating <= 5);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "reviews" cascade;`);
  }
}
