import { Migration } from '@mikro-orm/migrations';

/**
 * A webhook's deliveries of one event are found through one index on both keys. With only an index
 * on each, a planner with stale statistics ANDed the two bitmaps, reading every delivery of the
 * endpoint once per event in the acknowledgement check (O(events × deliveries) per pass).
 */
export class Migration20261206210000_webhook_delivery_event_index extends Migration {
  override name = 'Migration20261206210000_webhook_delivery_event_index';

  override up(): void | Promise<void> {
    this.addSql(
      `create index "webhook_deliveries_event_webhook_index" on "webhook_deliveries" ("event_id", "webhook_id");`,
    );
    this.addSql(`drop index "webhook_deliveries_event_index";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create index "webhook_deliveries_event_index" on "webhook_deliveries" ("event_id");`);
    this.addSql(`drop index "webhook_deliveries_event_webhook_index";`);
  }
}
