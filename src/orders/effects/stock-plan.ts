import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../../db/database';
import { preparedStatement, query, run, sql } from '../../db/sql';
import type { WriteBatch } from '../../db/write-batch';
import { DomainError } from '../../errors/domain-error';

export interface StockLine {
  productId: string;
  quantity: number;
}

type StockOperation = { op: 'reserve'; lines: StockLine[] } | { op: 'release' | 'commit' | 'restock' };

/**
 * Inventory changes a transition asks for, applied as the *last* statements of its transaction so the
 * hot inventory rows stay locked only until commit, and always in product-id order so two orders
 * never deadlock. The CHECK (0 <= reserved <= stock) stands behind every statement.
 */
export class StockPlan {
  private readonly operations: StockOperation[] = [];
  /** Products whose stock changed: their cached views are invalidated after commit. */
  readonly touched = new Set<string>();
  /** Committed changes of available units (stock − reserved): the stock gate follows them after commit. */
  readonly availableChanges: StockLine[] = [];

  /** Holds units for a new order; any shortage refuses the whole order (409 OUT_OF_STOCK). */
  reserve(lines: StockLine[]): void {
    this.operations.push({ op: 'reserve', lines: sumByProduct(lines) });
  }
  /** Gives a PENDING order's reservation back (compensates reserve). */
  release(): void {
    this.operations.push({ op: 'release' });
  }
  /** The order is paid: reserved units leave the stock for good and count as sold. */
  commit(): void {
    this.operations.push({ op: 'commit' });
  }
  /** A refunded order's units return to the shelf (compensates commit). */
  restock(): void {
    this.operations.push({ op: 'restock' });
  }

  get isEmpty(): boolean {
    return this.operations.length === 0;
  }

  /** The lines this plan reserves, when reserving is all it does (a placement); else undefined. */
  onlyReservations(): StockLine[] | undefined {
    if (this.operations.length === 0 || this.operations.some((o) => o.op !== 'reserve')) return undefined;
    return sumByProduct(this.operations.flatMap((o) => (o.op === 'reserve' ? o.lines : [])));
  }

  /**
   * Sends the step's write batch with the stock changes last. A one-line reservation (the common
   * case) rides in the batch as its conditional update; anything needing row locks in product-id
   * order runs right after it. A step that changes no stock ends its transaction with the batch, which
   * then goes out with the COMMIT.
   */
  async apply(em: EntityManager, orderId: string, batch: WriteBatch): Promise<void> {
    const [first, ...rest] = this.operations;
    if (first?.op === 'reserve' && first.lines.length === 1 && rest.length === 0) {
      const [line] = first.lines as [StockLine];
      this.touched.add(line.productId);
      this.availableChanges.push({ productId: line.productId, quantity: -line.quantity });
      batch.addExpecting(
        sql`update inventory set reserved = reserved + ${line.quantity}, version = version + 1, updated_at = now()
            where product_id = ${line.productId} and stock - reserved >= ${line.quantity}`,
        1,
        () => outOfStock(em, first.lines),
      );
      await batch.flush(em, { hot: true });
      return;
    }
    await batch.flush(em, { hot: true, atCommit: this.operations.length === 0 });
    for (const operation of this.operations) {
      const lines =
        operation.op === 'reserve' ? operation.lines : await adjustOrderLines(em, operation.op, orderId);
      for (const line of lines) this.touched.add(line.productId);
      const sign = operation.op === 'reserve' ? -1 : operation.op === 'commit' ? 0 : 1;
      if (sign !== 0)
        for (const l of lines)
          this.availableChanges.push({ productId: l.productId, quantity: sign * l.quantity });
      if (operation.op === 'reserve') await reserve(em, lines);
    }
  }
}

/**
 * The placement batch's reservations: ONE conditional update per product for the whole batch, its
 * members' units summed (a flash sale's hot row is written once per batch, not once per order). The
 * batch decided who gets units while holding the rows' locks, so a mismatch here means the decision
 * was wrong and rolls the whole batch back. Sent last in the batch's statement (see StockPlan).
 */
export function reserveBatchStock(batch: WriteBatch, totals: StockLine[], mismatch: () => Error): void {
  if (totals.length === 0) return;
  batch.addExpecting(
    sql`update inventory i set reserved = i.reserved + d.quantity, version = i.version + 1, updated_at = now()
        from unnest(${totals.map((l) => l.productId)}::uuid[], ${totals.map((l) => l.quantity)}::int[])
          as d(product_id, quantity)
        where i.product_id = d.product_id and i.stock - i.reserved >= d.quantity`,
    totals.length,
    mismatch,
  );
}

/** Duplicate lines of one product become one line with the summed demand (Medusa #16502). */
export function sumByProduct(lines: StockLine[]): StockLine[] {
  const totals = new Map<string, number>();
  for (const { productId, quantity } of lines) totals.set(productId, (totals.get(productId) ?? 0) + quantity);
  return [...totals].map(([productId, quantity]) => ({ productId, quantity })).sort(byProductId);
}

const byProductId = (a: StockLine, b: StockLine) =>
  a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;

async function reserve(em: EntityManager, lines: StockLine[]): Promise<void> {
  if (lines.length === 1) {
    // One product: a single conditional update decides and reserves atomically.
    const [line] = lines as [StockLine];
    const reserved = await run(
      em,
      sql`update inventory set reserved = reserved + ${line.quantity}, version = version + 1, updated_at = now()
          where product_id = ${line.productId} and stock - reserved >= ${line.quantity}`,
    );
    if (reserved === 1) return;
    throw await outOfStock(em, lines);
  }
  const available = await lockInOrder(em, lines);
  const short = lines.filter((l) => (available.get(l.productId) ?? 0) < l.quantity);
  if (short.length > 0) throw await outOfStock(em, short);
  await run(
    em,
    sql`update inventory i set reserved = i.reserved + d.quantity, version = i.version + 1, updated_at = now()
        from unnest(${lines.map((l) => l.productId)}::uuid[], ${lines.map((l) => l.quantity)}::int[])
          as d(product_id, quantity)
        where i.product_id = d.product_id`,
  );
}

const ADJUSTMENTS = {
  release: sql`reserved = i.reserved - d.quantity`,
  commit: sql`stock = i.stock - d.quantity, reserved = i.reserved - d.quantity, sold = i.sold + d.quantity`,
  restock: sql`stock = i.stock + d.quantity, sold = greatest(i.sold - d.quantity, 0)`,
} as const;

/**
 * Releases, commits or restocks an order's units, reading its lines and locking their inventory rows
 * in product-id order (the subquery's FOR UPDATE, so two orders never deadlock) in the one statement
 * that changes them; returns the lines. A fixed text per operation: a named prepared statement.
 */
async function adjustOrderLines(
  em: EntityManager,
  op: 'release' | 'commit' | 'restock',
  orderId: string,
): Promise<StockLine[]> {
  const rows = await query<Row<'inventory', 'product_id'> & { quantity: number }>(
    em,
    preparedStatement(sql`update inventory i set ${ADJUSTMENTS[op]}, version = i.version + 1, updated_at = now()
        from (select x.product_id, l.quantity
              from inventory x
              join (select product_id, sum(quantity)::int as quantity from order_items where order_id = ${orderId}
                    group by product_id) l on l.product_id = x.product_id
              order by x.product_id
              for update of x) d
        where i.product_id = d.product_id
        returning i.product_id, d.quantity`),
  );
  return rows.map((r) => ({ productId: r.product_id, quantity: r.quantity })).sort(byProductId);
}

/** Row locks in product-id order: concurrent multi-line orders queue up instead of deadlocking. */
async function lockInOrder(em: EntityManager, lines: StockLine[]): Promise<Map<string, number>> {
  const rows = await query<Row<'inventory', 'product_id'> & { available: number }>(
    em,
    sql`select product_id, stock - reserved as available from inventory
        where product_id = any(${lines.map((l) => l.productId)}::uuid[]) order by product_id for update`,
  );
  return new Map(rows.map((r) => [r.product_id, r.available]));
}

async function outOfStock(em: EntityManager, lines: StockLine[]): Promise<DomainError> {
  const rows = await query<Row<'inventory', 'product_id'> & { available: number }>(
    em,
    sql`select product_id, stock - reserved as available from inventory
        where product_id = any(${lines.map((l) => l.productId)}::uuid[])`,
  );
  const available = new Map(rows.map((r) => [r.product_id, r.available]));
  return outOfStockError(
    lines.filter((l) => (available.get(l.productId) ?? 0) < l.quantity),
    available,
  );
}

/** One line of a 409 OUT_OF_STOCK's details: what was asked and what is left (never below 0). */
export const shortageDetail = (s: { productId: string; requested: number; available: number }) => ({
  field: 'productId',
  message: 'not enough available stock',
  productId: s.productId,
  requested: s.requested,
  available: Math.max(0, s.available),
});

/** 409 OUT_OF_STOCK for the lines that are short, with what is available of each. */
export const outOfStockError = (short: StockLine[], available: Map<string, number>) =>
  new DomainError(
    'OUT_OF_STOCK',
    undefined,
    short.map((l) =>
      shortageDetail({
        productId: l.productId,
        requested: l.quantity,
        available: available.get(l.productId) ?? 0,
      }),
    ),
  );
