import { Migration } from '@mikro-orm/migrations';

/**
 * When a paid order confirms itself, as a column beside the snapshot (paid_at + the machine's
 * autoConfirmMs), with a partial index over PAID orders. The auto-confirm sweep and its per-minute
 * timer jobs read the orders due through it; before, each pass computed the due time from every
 * PAID order's snapshot — a week of paid orders read every few seconds. The backfill touches the PAID
 * orders only (the sweeps read no others); a settled order's column stays empty until its next step.
 */
export class Migration20261206213000_order_auto_confirm_at extends Migration {
  override name = 'Migration20261206213000_order_auto_confirm_at';

  override up(): void | Promise<void> {
    this.addSql(`alter table "orders" add column "auto_confirm_at" timestamptz null;`);
    this.addSql(
      `update "orders" set "auto_confirm_at" = "paid_at" + make_interval(secs => ("snapshot" #>> '{context,autoConfirmMs}')::bigint / 1000.0) where "status" = 'PAID';`,
    );
    this.addSql(
      `create index "orders_auto_confirm_index" on "orders" ("auto_confirm_at") where status = 'PAID';`,
    );
    this.addSql(`drop index "orders_paid_at_index";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create index "orders_paid_at_index" on "orders" ("paid_at") where status = 'PAID';`);
    this.addSql(`drop index "orders_auto_confirm_index";`);
    this.addSql(`alter table "orders" drop column "auto_confirm_at";`);
  }
}
