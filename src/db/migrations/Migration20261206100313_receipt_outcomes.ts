import { Migration } from '@mikro-orm/migrations';

/**
 * Receipts store the domain outcome of a command (resource type and id, created/updated/pending)
 * instead of an API path and an HTTP status: the HTTP layer derives both. Existing receipts are
 * converted; http_status stays for refusals (their error code's status).
 */
export class Migration20261206100313_receipt_outcomes extends Migration {
  override name = 'Migration20261206100313_receipt_outcomes';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "commands" add "resource_type" text null, add "resource_id" uuid null, add "result" text null;`,
    );
    this.addSql(`alter table "commands" alter column "http_status" drop not null;`);
    this.addSql(
      `update "commands"
          set "resource_type" = case split_part("resource", '/', 4)
                when 'orders' then 'order' when 'payments' then 'payment'
                when 'refunds' then 'refund' when 'inventory' then 'inventory' end,
              "resource_id" = split_part("resource", '/', 5)::uuid,
              "result" = case "http_status" when 201 then 'created' when 202 then 'pending' else 'updated' end,
              "http_status" = null
        where "status" = 'DONE' and "resource" is not null;`,
    );
    this.addSql(`alter table "commands" drop column "resource";`);
    this.addSql(
      `alter table "commands" add constraint "commands_resource_type_check" check ("resource_type" in ('order', 'payment', 'refund', 'inventory'));`,
    );
    this.addSql(
      `alter table "commands" add constraint "commands_result_check" check ("result" in ('created', 'updated', 'pending'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "commands" drop constraint "commands_resource_type_check";`);
    this.addSql(`alter table "commands" drop constraint "commands_result_check";`);
    this.addSql(`alter table "commands" add "resource" varchar(200) null;`);
    this.addSql(
      `update "commands"
          set "resource" = '/api/v1/' || case "resource_type" when 'order' then 'orders' when 'payment' then 'payments'
                when 'refund' then 'refunds' else 'inventory' end || '/' || "resource_id",
              "http_status" = case "result" when 'created' then 201 when 'pending' then 202 else 200 end
        where "resource_type" is not null;`,
    );
    this.addSql(`update "commands" set "http_status" = 200 where "http_status" is null;`);
    this.addSql(
      `alter table "commands" drop column "resource_type", drop column "resource_id", drop column "result";`,
    );
    this.addSql(`alter table "commands" alter column "http_status" set not null;`);
  }
}
