import { Migration } from '@mikro-orm/migrations';

/**
 * The payment sweep (every PAYMENT_SWEEP_INTERVAL_MS) looks for payments and refunds in flight past
 * the retry window and for recent gateway failures; without an index on either table each of its four
 * reads was a sequential scan of every payment or refund ever made. Partial indexes over just those rows.
 */
export class Migration20261206214500_payment_sweep_indexes extends Migration {
  override name = 'Migration20261206214500_payment_sweep_indexes';

  override up(): void | Promise<void> {
    this.addSql(
      `create index "payments_unsettled_index" on "payments" ("updated_at") where status in ('REQUESTED', 'PROCESSING');`,
    );
    this.addSql(
      `create index "payments_gateway_failed_index" on "payments" ("updated_at") where status = 'FAILED' and failure_reason in ('GATEWAY_TIMEOUT', 'GATEWAY_ERROR');`,
    );
    this.addSql(
      `create index "refunds_unsettled_index" on "refunds" ("updated_at") where status in ('REQUESTED', 'PROCESSING');`,
    );
    this.addSql(`create index "refunds_manual_index" on "refunds" ("updated_at") where status = 'MANUAL';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "refunds_manual_index";`);
    this.addSql(`drop index "refunds_unsettled_index";`);
    this.addSql(`drop index "payments_gateway_failed_index";`);
    this.addSql(`drop index "payments_unsettled_index";`);
  }
}
