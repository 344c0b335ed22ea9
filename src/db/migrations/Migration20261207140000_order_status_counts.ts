import { Migration } from '@mikro-orm/migrations';

/**
 * Orders by status without counting the orders: the `shop_orders{status}` gauge read
 * `count(*) … group by status` on every scrape, an index-only scan of every order ever placed
 * (≈ 90 ms at 2 million orders on the 2-core box, and a heap fetch per row whose page is not yet
 * all-visible). Now triggers on `orders` append what each statement changed to
 * `order_status_deltas` (no key, no index: inserts never wait on one another), the order sweep folds
 * them into `order_status_counts` now and then, and a scrape sums the two — O(statuses + changes
 * since the last fold). Triggers, not the shop's code: every writer is counted, whichever path it
 * takes. The index on status existed for the scrape alone and is dropped (one index less to
 * maintain on every placement and every change of status).
 *
 * Inserts and deletes: one statement-level trigger each, aggregating the statement's transition
 * table (a placement batch adds one delta row per status, not per order). Updates: a row-level
 * trigger guarded by `WHEN (old.status is distinct from new.status)` — PostgreSQL evaluates the
 * guard without calling the function, so the updates that keep the status (most of them) cost
 * nothing; transition tables are not allowed with a column list and would copy every updated row.
 * TRUNCATE empties both tables. The creation of the triggers locks `orders` against writes until
 * this migration commits, so the backfill counts exactly what the triggers will change from.
 */
export class Migration20261207140000_order_status_counts extends Migration {
  override name = 'Migration20261207140000_order_status_counts';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "order_status_counts" ("status" text not null, "count" bigint not null, primary key ("status"));`,
    );
    this.addSql(`create table "order_status_deltas" ("status" text not null, "delta" bigint not null);`);
    this.addSql(`create function order_status_inserted() returns trigger language plpgsql as $$
begin
  insert into order_status_deltas (status, delta) select status, count(*) from added_orders group by status;
  return null;
end $$;`);
    this.addSql(`create function order_status_deleted() returns trigger language plpgsql as $$
begin
  insert into order_status_deltas (status, delta) select status, -count(*) from removed_orders group by status;
  return null;
end $$;`);
    this.addSql(`create function order_status_changed() returns trigger language plpgsql as $$
begin
  insert into order_status_deltas (status, delta) values (old.status, -1), (new.status, 1);
  return null;
end $$;`);
    this.addSql(`create function order_status_truncated() returns trigger language plpgsql as $$
begin
  delete from order_status_deltas;
  delete from order_status_counts;
  return null;
end $$;`);
    this.addSql(`create trigger "orders_status_inserted" after insert on "orders"
  referencing new table as added_orders for each statement execute function order_status_inserted();`);
    this.addSql(`create trigger "orders_status_deleted" after delete on "orders"
  referencing old table as removed_orders for each statement execute function order_status_deleted();`);
    this.addSql(`create trigger "orders_status_changed" after update of "status" on "orders"
  for each row when (old.status is distinct from new.status) execute function order_status_changed();`);
    this.addSql(`create trigger "orders_status_truncated" after truncate on "orders"
  for each statement execute function order_status_truncated();`);
    this.addSql(
      `insert into "order_status_counts" ("status", "count") select "status", count(*) from "orders" group by "status";`,
    );
    this.addSql(`drop index "orders_status_index";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create index "orders_status_index" on "orders" ("status");`);
    this.addSql(`drop trigger "orders_status_truncated" on "orders";`);
    this.addSql(`drop trigger "orders_status_changed" on "orders";`);
    this.addSql(`drop trigger "orders_status_deleted" on "orders";`);
    this.addSql(`drop trigger "orders_status_inserted" on "orders";`);
    this.addSql(`drop function order_status_truncated();`);
    this.addSql(`drop function order_status_changed();`);
    this.addSql(`drop function order_status_deleted();`);
    this.addSql(`drop function order_status_inserted();`);
    this.addSql(`drop table "order_status_deltas";`);
    this.addSql(`drop table "order_status_counts";`);
  }
}
