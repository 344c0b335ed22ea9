import { Migration } from '@mikro-orm/migrations';

export class Migration20261206100945_outbox_trace_context extends Migration {
  override name = 'Migration20261206100945_outbox_trace_context';

  override up(): void | Promise<void> {
    this.addSql(`alter table "outbox_events" add "trace_context" text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "outbox_events" drop column "trace_context";`);
  }
}
