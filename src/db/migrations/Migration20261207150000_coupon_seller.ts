import { Migration } from '@mikro-orm/migrations';

/**
 * A SELLER's coupon discounts that seller's products only. Coupons applied to the whole order, so any
 * self-registered seller could issue a 100 % coupon and hand out every other seller's goods for free.
 * `seller_id` is the seller whose lines a coupon discounts (null: a platform coupon, made by an ADMIN,
 * for the whole order); existing coupons made by a seller get their creator.
 */
export class Migration20261207150000_coupon_seller extends Migration {
  override name = 'Migration20261207150000_coupon_seller';

  override up(): void | Promise<void> {
    this.addSql(`alter table "coupons" add column "seller_id" uuid null;`);
    this.addSql(
      `alter table "coupons" add constraint "coupons_seller_id_foreign" foreign key ("seller_id") references "users" ("id") on delete set null;`,
    );
    this.addSql(
      `update "coupons" c set "seller_id" = c."created_by" from "users" u where u."id" = c."created_by" and u."role" = 'SELLER';`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "coupons" drop constraint "coupons_seller_id_foreign";`);
    this.addSql(`alter table "coupons" drop column "seller_id";`);
  }
}
