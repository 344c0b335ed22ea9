import { Migration } from '@mikro-orm/migrations';

export class Migration20261206103000_queued_commands extends Migration {
  override name = 'Migration20261206103000_queued_commands';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "queued_commands" ("id" varchar(80) not null, "user_id" uuid not null, "queue" varchar(40) not null, "type" varchar(40) not null, "data" jsonb not null, "requeues" int not null default 0, "accepted_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "queued_commands_accepted_at_index" on "queued_commands" ("accepted_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "queued_commands" cascade;`);
  }
}
