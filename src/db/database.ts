import type { EntityManager, InferKyselyDB } from '@mikro-orm/postgresql';
import type { ColumnType, Kysely } from 'kysely';
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
import type { OutboxEventSchema } from './schema/outbox-event.entity';
import type { PaymentSchema } from './schema/payment.entity';
import type { ProcessedMessageSchema } from './schema/processed-message.entity';
import type { ProductSchema } from './schema/product.entity';
import type { RefundSchema } from './schema/refund.entity';
import type { ReviewSchema } from './schema/review.entity';
import type { SalesLineSchema } from './schema/sales-line.entity';
import type { UserSchema } from './schema/user.entity';
import type { UserCouponSchema } from './schema/user-coupon.entity';
import type { WebhookSchema } from './schema/webhook.entity';
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
  | typeof OutboxEventSchema
  | typeof PaymentSchema
  | typeof ProcessedMessageSchema
  | typeof ProductSchema
  | typeof RefundSchema
  | typeof ReviewSchema
  | typeof SalesLineSchema
  | typeof UserCouponSchema
  | typeof UserSchema
  | typeof WebhookDeliverySchema
  | typeof WebhookSchema
>;

/**
 * The one description of the database for typed queries: every table and column as the MikroORM
 * schemas (src/db/schema/) define them, so a query names no column the schema does not have and
 * gets its row type from here instead of a hand-written one.
 */
export type DB = { [Table in keyof Inferred]: Timestamps<Inferred[Table]> };

/** The typed query builder, inside the EntityManager's transaction when it has one. */
export const db = (em: EntityManager): Kysely<DB> => em.getKysely<DB>();
