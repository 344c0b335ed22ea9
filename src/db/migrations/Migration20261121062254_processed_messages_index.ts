import { Migration } from '@mikro-orm/migrations';

export class Migration20261121062254_processed_messages_index extends Migration {
  override name = 'Migration20261121062254_processed_messages_index';

  override up(): void | Promise<void> {
    this.addSql(
      `create index "processed_messages_processed_at_index" on "processed_messages" ("processed_at");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "processed_messages_processed_at_index";`);
  }
}
