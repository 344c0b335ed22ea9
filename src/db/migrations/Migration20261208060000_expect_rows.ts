import { Migration } from '@mikro-orm/migrations';

/**
 * `shop_expect_rows(touched, expected, label)`: fails the statement (SQLSTATE SH001, the label as its
 * detail) when a write touched another number of rows than its caller expected. A step's last write
 * checks its compare-and-sets and conditional stock updates with it, in SQL, so it can go out with the
 * COMMIT instead of waiting for its answer first (src/db/write-batch.ts, src/db/transaction-edges.ts).
 */
export class Migration20261208060000_expect_rows extends Migration {
  override name = 'Migration20261208060000_expect_rows';

  override up(): void | Promise<void> {
    this.addSql(`create or replace function shop_expect_rows(touched bigint, expected int, label text) returns int
      language plpgsql as $$
      begin
        if touched is distinct from expected then
          raise exception using errcode = 'SH001', detail = label,
            message = format('%s rows touched where %s were expected (%s)', touched, expected, label);
        end if;
        return 1;
      end $$;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop function if exists shop_expect_rows(bigint, int, text);`);
  }
}
