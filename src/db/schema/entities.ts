import { BalanceTransaction } from './balance-transaction.entity';
import { CartItem } from './cart-item.entity';
import { Command } from './command.entity';
import { Coupon } from './coupon.entity';
import { GatewayAttempt } from './gateway-attempt.entity';
import { GatewayCharge } from './gateway-charge.entity';
import { Inventory } from './inventory.entity';
import { Notification } from './notification.entity';
import { Order } from './order.entity';
import { OrderItem } from './order-item.entity';
import { OrderTransition } from './order-transition.entity';
import { OutboxAckWatermark, OutboxEvent } from './outbox-event.entity';
import { Payment } from './payment.entity';
import { ProcessedMessage } from './processed-message.entity';
import { Product } from './product.entity';
import { QueuedCommand } from './queued-command.entity';
import { Refund } from './refund.entity';
import { Review } from './review.entity';
import { SalesLine } from './sales-line.entity';
import { User } from './user.entity';
import { UserCoupon } from './user-coupon.entity';
import { Webhook, WebhookBacklog } from './webhook.entity';
import { WebhookDelivery } from './webhook-delivery.entity';

/** Every entity the ORM knows; add new ones here. */
export const entities = [
  User,
  BalanceTransaction,
  Product,
  Inventory,
  CartItem,
  Order,
  OrderItem,
  OrderTransition,
  OutboxEvent,
  OutboxAckWatermark,
  Command,
  QueuedCommand,
  ProcessedMessage,
  Payment,
  Refund,
  Review,
  Coupon,
  UserCoupon,
  Notification,
  SalesLine,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  GatewayCharge,
  GatewayAttempt,
];
