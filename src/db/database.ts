import type { EntityManager, InferKyselyDB } from '@mikro-orm/postgresql';
import type { ColumnType, Kysely, Selectable } from 'kysely';
import type { BalanceTransactionSchema } from './schema/balance-transaction.entity';
import type { CartItemSchema } from './schema/cart-item.entity';
import type { CommandSchema } from './schema/command.entity';
import type { CouponSchema } from './schema/coupon.entity';
import type { GatewayAttemptSchema } from './schema/gateway-attempt.entity';
import type { GatewayChargeSchema } from './schema/gateway-charge.entity';
import type { InventorySchema } from './schema/inventory.entity';
import type { NotificationSchema } from './schema/notification.entity';
import type { OrderSchema } from './schema/order.entity';
import type { OrderItemSchema } from './schema/order-item.entity';
import type { OrderTransitionSchema } from './schema/order-transition.entity';
import type { OutboxAckWatermarkSchema, OutboxEventSchema } from './schema/outbox-event.entity';
import type { PaymentSchema } from './schema/payment.entity';
import type { ProcessedMessageSchema } from './schema/processed-message.entity';
import type { ProductSchema } from './schema/product.entity';
import type { QueuedCommandSchema } from './schema/queued-command.entity';
import type { RefundSchema } from './schema/refund.entity';
import type { ReviewSchema } from './schema/review.entity';
import type { SalesLineSchema } from './schema/sales-line.entity';
import type { UserSchema } from './schema/user.entity';
import type { UserCouponSchema } from './schema/user-coupon.entity';
import type { WebhookBacklogSchema, WebhookSchema } from './schema/webhook.entity';
import type { WebhookDeliverySchema } from './schema/webhook-delivery.entity';

/**
 * Timestamps read outside MikroORM's hydration arrive as ISO strings (MikroORM turns pg's date
 * parsing off); written, a Date or a string will do. `asDate`/`asIso` (sql.ts) read either.
 */
type Timestamps<Table> = {
  [Column in keyof Table]: Table[Column] extends Date
    ? ColumnType<Date | string, Date | string, Date | string>
    : Table[Column] extends Date | null
      ? ColumnType<Date | string | null, Date | string | null, Date | string | null>
      : Table[Column];
};

type Inferred = InferKyselyDB<
  | typeof BalanceTransactionSchema
  | typeof CartItemSchema
  | typeof CommandSchema
  | typeof CouponSchema
  | typeof GatewayAttemptSchema
  | typeof GatewayChargeSchema
  | typeof InventorySchema
  | typeof NotificationSchema
  | typeof OrderItemSchema
  | typeof OrderTransitionSchema
  | typeof OrderSchema
  | typeof OutboxAckWatermarkSchema
  | typeof OutboxEventSchema
  | typeof PaymentSchema
  | typeof ProcessedMessageSchema
  | typeof ProductSchema
  | typeof QueuedCommandSchema
  | typeof RefundSchema
  | typeof ReviewSchema
  | typeof SalesLineSchema
  | typeof UserCouponSchema
  | typeof UserSchema
  | typeof WebhookDeliverySchema
  | typeof WebhookBacklogSchema
  | typeof WebhookSchema
>;

/**
 * The `bigint` columns. MikroORM hydrates them as numbers, but read outside its hydration pg hands
 * int8 over as a string (it may exceed 2^53): read them with `Number(…)`. Written, any of the three.
 * test/project/typed-rows.test.ts checks this list against the schemas' bigint properties.
 */
export const BIGINT_COLUMNS = {
  balance_transactions: ['amount', 'balance_after'],
  sales_lines: ['revenue'],
  users: ['balance'],
} as const satisfies { [Table in keyof Inferred]?: readonly (keyof Inferred[Table])[] };

type BigintColumns<Table> = Table extends keyof typeof BIGINT_COLUMNS
  ? (typeof BIGINT_COLUMNS)[Table][number]
  : never;

type AsRead<Table extends keyof Inferred> = {
  [Column in keyof Timestamps<Inferred[Table]>]: Column extends BigintColumns<Table>
    ? ColumnType<string, number | string, number | string>
    : Timestamps<Inferred[Table]>[Column];
};

/**
 * The one description of the database for typed queries: every table and column as the MikroORM
 * schemas (src/db/schema/) define them and as pg returns them outside MikroORM's hydration, so a
 * query names no column the schema does not have and gets its row type from here instead of a
 * hand-written one.
 */
export type DB = { [Table in keyof Inferred]: AsRead<Table> };

/**
 * Some columns of one table as a raw `sql` statement returns them, for the statements kept as SQL
 * text (CTEs, hot paths): `query<Row<'orders', 'id' | 'status'> & { reserved: number }>(…)`.
 * Computed and aggregate columns are typed inline beside it.
 */
export type Row<Table extends keyof DB, Columns extends keyof Selectable<DB[Table]>> = Pick<
  Selectable<DB[Table]>,
  Columns
>;

/** The typed query builder, inside the EntityManager's transaction when it has one. */
export const db = (em: EntityManager): Kysely<DB> => em.getKysely<DB>();
