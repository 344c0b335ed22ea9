import { Migration } from '@mikro-orm/migrations';

/**
 * An ADMIN's suspension of a coupon sticks: its creator could set an admin-suspended coupon back to
 * ACTIVE. `suspended_by_admin` marks such a suspension; only an ADMIN may resume the coupon.
 */
export class Migration20261207151000_coupon_admin_suspension extends Migration {
  override name = 'Migration20261207151000_coupon_admin_suspension';

  override up(): void | Promise<void> {
    this.addSql(`alter table "coupons" add column "suspended_by_admin" boolean not null default false;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "coupons" drop column "suspended_by_admin";`);
  }
}
