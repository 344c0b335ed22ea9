import type { OrderEvent, PaymentMethod } from '../../machines/order.machine';
import type { Role } from '../db/schema/user.entity';

/** Every command from HTTP carries who sent it and how to answer and deduplicate it. */
export interface CommandEnvelope {
  commandId: string;
  userId: string;
  role: Role;
  idempotencyKey: string | null;
  requestHash: string | null;
}

export interface OrderLineInput {
  productId: string;
  quantity: number;
}

export interface PlaceOrderCommand extends CommandEnvelope {
  items?: OrderLineInput[] | undefined;
  fromCart?: boolean | undefined;
  productIds?: string[] | undefined;
  userCouponId?: string | null | undefined;
}

export interface CancelOrderCommand extends CommandEnvelope {
  orderId: string;
  reason?: string | undefined;
}

export interface ConfirmOrderCommand extends CommandEnvelope {
  orderId: string;
}

export interface PayOrderCommand extends CommandEnvelope {
  orderId: string;
  method: PaymentMethod;
  cardToken?: string | undefined;
}

export interface RefundPaymentCommand extends CommandEnvelope {
  paymentId: string;
  amount?: number | undefined;
  reason?: string | undefined;
  restock?: boolean | undefined;
}

/** Order mailbox commands, by job name. */
export interface OrderCommands {
  PLACE: PlaceOrderCommand;
  CANCEL: CancelOrderCommand;
  CONFIRM: ConfirmOrderCommand;
  PAY: PayOrderCommand;
  REFUND: RefundPaymentCommand;
}
export type OrderCommandName = keyof OrderCommands;
export type AnyOrderCommand = OrderCommands[OrderCommandName];

export interface RestockCommand extends CommandEnvelope {
  productId: string;
  quantity: number;
}

/** An operator's correction of counted stock (damage, loss, a recount), positive or negative. */
export interface AdjustStockCommand extends CommandEnvelope {
  productId: string;
  delta: number;
  reason: string;
}

export interface InventoryCommands {
  RESTOCK: RestockCommand;
  ADJUST: AdjustStockCommand;
}

/** Every actor that takes client commands, and its commands by job name. */
export interface CommandMailboxes {
  order: OrderCommands;
  inventory: InventoryCommands;
}

/** Facts other actors report to an order (through the outbox), and timeouts coming due. */
export type OrderNotice =
  | {
      orderId: string;
      event: Omit<Extract<OrderEvent, { type: 'PAYMENT_SUCCEEDED' | 'PAYMENT_FAILED' }>, 'at'>;
    }
  | {
      orderId: string;
      event: Omit<Extract<OrderEvent, { type: 'REFUND_COMPLETED' | 'REFUND_FAILED' }>, 'at'>;
    }
  | { orderId: string; event: Omit<Extract<OrderEvent, { type: 'EXPIRE' | 'AUTO_CONFIRM' }>, 'at'> }
  /** A machine `after` delay that came due: its event is fed back through transition(). */
  | { orderId: string; event: { type: string } };

export const ORDER_NOTICE = 'NOTICE';
export const ORDER_SWEEP = 'SWEEP';

/** The payment actor's mailbox: carry out a capture or a refund at the gateway (or on the balance). */
export const PAYMENT_CAPTURE = 'CAPTURE';
export const PAYMENT_REFUND = 'REFUND';
export const PAYMENT_SWEEP = 'SWEEP';

export interface CapturePaymentMessage {
  paymentId: string;
}

export interface RefundPaymentMessage {
  refundId: string;
}
