import { z } from 'zod';
import { PAYMENT_METHODS } from '../db/schema/payment.entity';
import { ROLES } from '../db/schema/user.entity';
import { text } from '../validation/text';

/*
 * The one map from job name to payload, per mailbox. Producers (the HTTP dispatcher, the outbox, the
 * sweepers) take their types from it; workers parse every job's data with it before anything else
 * runs, so a forged or stale payload is refused at the door (src/messaging/parse-job.ts).
 */

const id = z.uuid();
const count = z.number().int();

/** Every command from HTTP carries who sent it and how to answer and deduplicate it. */
const envelope = {
  commandId: text().min(1).max(200),
  userId: id,
  role: z.enum(ROLES),
  idempotencyKey: text().nullable(),
  requestHash: text().nullable(),
  /** The sending API process's reply channel (see replies.ts); absent: the shared one. */
  replyTo: id.optional(),
};
export const CommandEnvelopeSchema = z.object(envelope);
export type CommandEnvelope = z.infer<typeof CommandEnvelopeSchema>;

const orderLine = z.object({ productId: id, quantity: count.positive() });

const placeOrder = z.object({
  ...envelope,
  items: z.array(orderLine).optional(),
  fromCart: z.boolean().optional(),
  productIds: z.array(id).optional(),
  userCouponId: id.nullable().optional(),
});
/** Most placements one PLACE_BATCH job carries (the order worker's group commit takes as many). */
export const MAX_PLACE_BATCH = 64;
/**
 * Placements one API process received while its previous PLACE job was unanswered, sent as ONE job (the
 * Redis cost of a job is paid once per batch). Each member is a whole PLACE command with its own id,
 * receipt and reply; the worker hands them to the group commit.
 */
const placeBatch = z.object({ commands: z.array(placeOrder).min(2).max(MAX_PLACE_BATCH) });
const cancelOrder = z.object({ ...envelope, orderId: id, reason: text().optional() });
const confirmOrder = z.object({ ...envelope, orderId: id });
const payOrder = z.object({
  ...envelope,
  orderId: id,
  method: z.enum(PAYMENT_METHODS),
  cardToken: text().optional(),
});
const refundPayment = z.object({
  ...envelope,
  paymentId: id,
  amount: count.positive().optional(),
  reason: text().optional(),
  restock: z.boolean().optional(),
});
/** Commands on an existing order that an API process sends in batches (src/commands/order-command-sender.ts). */
export const BATCHED_ORDER_COMMANDS = ['CANCEL', 'CONFIRM', 'PAY', 'REFUND'] as const;
/** Most commands one COMMAND_BATCH job carries. */
export const MAX_COMMAND_BATCH = 64;
/**
 * Commands on existing orders of one shard that one API process received while its previous job for
 * that shard was unanswered, sent as ONE job, in the order they were sent. Each member is a whole
 * command with its own id, receipt and reply; the worker parses each member's data with its own
 * schema, so one malformed member is refused alone.
 */
const commandBatch = z.object({
  commands: z
    .array(z.object({ name: z.enum(BATCHED_ORDER_COMMANDS), data: z.record(text(), z.unknown()) }))
    .min(2)
    .max(MAX_COMMAND_BATCH),
});

/** Facts other actors report to an order (through the outbox), and timeouts coming due. */
const orderNoticeEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('PAYMENT_SUCCEEDED'), paymentId: id, amount: count.nonnegative() }),
  z.object({ type: z.literal('PAYMENT_FAILED'), paymentId: id, reason: text() }),
  z.object({
    type: z.literal('REFUND_COMPLETED'),
    refundId: id,
    paymentId: id,
    amount: count.nonnegative(),
    restock: z.boolean(),
  }),
  z.object({ type: z.literal('REFUND_FAILED'), refundId: id, paymentId: id, amount: count.nonnegative() }),
  z.object({ type: z.literal('EXPIRE') }),
  z.object({ type: z.literal('AUTO_CONFIRM') }),
]);
/** A machine `after` delay that came due: its event is fed back through transition(). */
const delayedEvent = z.object({ type: text().regex(/^xstate\.after\./) });
const orderNotice = z.object({ orderId: id, event: z.union([orderNoticeEvent, delayedEvent]) });

/** Most relay-delivered messages one `…_BATCH` job carries (src/outbox/message-batches.ts). */
export const MAX_MESSAGE_BATCH = 100;
/**
 * Messages of one relay claim to one mailbox, sent as ONE job (a job's Redis cost is paid once).
 * Each member keeps the job id it would travel under alone (`id`, the id a notice is recorded by)
 * and its payload, parsed with the lone message's schema when it runs: a poisoned member is refused
 * alone, never its neighbours.
 */
const messageBatch = z.object({
  members: z
    .array(z.object({ id: text().min(1).max(200), data: z.unknown() }))
    .min(2)
    .max(MAX_MESSAGE_BATCH),
});

const noData = z.object({});
const restock = z.object({ ...envelope, productId: id, quantity: count.positive() });
/** An operator's correction of counted stock (damage, loss, a recount), positive or negative. */
const adjustStock = z.object({ ...envelope, productId: id, delta: count, reason: text() });
const coupon = z.object({ couponId: id });

export const ORDER_PLACE_BATCH = 'PLACE_BATCH';
export const ORDER_COMMAND_BATCH = 'COMMAND_BATCH';
export const ORDER_NOTICE = 'NOTICE';
/** NOTICEs of one relay claim to one order shard (each member applied as a lone NOTICE). */
export const ORDER_NOTICE_BATCH = 'NOTICE_BATCH';
export const ORDER_SWEEP = 'SWEEP';
/** A time bucket of order timers came due (src/orders/order-timers.ts). */
export const ORDER_TIMERS_DUE = 'TIMERS_DUE';
export const PAYMENT_CAPTURE = 'CAPTURE';
export const PAYMENT_REFUND = 'REFUND';
/** CAPTUREs (REFUNDs) of one relay claim (each member carried out as a lone CAPTURE or REFUND). */
export const PAYMENT_CAPTURE_BATCH = 'CAPTURE_BATCH';
export const PAYMENT_REFUND_BATCH = 'REFUND_BATCH';
export const PAYMENT_SWEEP = 'SWEEP';
export const INVENTORY_RECONCILE = 'RECONCILE';

const webhookEvent = z.object({
  id: text(),
  type: text(),
  occurredAt: text(),
  data: z.record(text(), z.unknown()),
});

/**
 * One signed POST of an event to one endpoint (the `webhooks` queue; the job name is the event type).
 * `attemptsBefore`: attempts a batch made before this job took the delivery over (its retries).
 */
export const WebhookDeliverySchema = z.object({
  webhookId: id,
  event: webhookEvent,
  attemptsBefore: z.number().int().min(0).max(100).optional(),
});
export type WebhookDeliveryJob = z.infer<typeof WebhookDeliverySchema>;

/** The first attempt of several events to one endpoint, one signed POST each, in their order. */
export const WEBHOOK_BATCH = 'WEBHOOK_BATCH';
export const WebhookBatchSchema = z.object({
  webhookId: id,
  events: z.array(webhookEvent).min(1).max(1000),
});
export type WebhookBatchJob = z.infer<typeof WebhookBatchSchema>;

/** Every actor mailbox and the payload of each of its job names. */
export const MAILBOX_JOBS = {
  order: {
    PLACE: placeOrder,
    [ORDER_PLACE_BATCH]: placeBatch,
    CANCEL: cancelOrder,
    CONFIRM: confirmOrder,
    PAY: payOrder,
    REFUND: refundPayment,
    [ORDER_COMMAND_BATCH]: commandBatch,
    [ORDER_NOTICE]: orderNotice,
    [ORDER_NOTICE_BATCH]: messageBatch,
    [ORDER_SWEEP]: noData,
    [ORDER_TIMERS_DUE]: z.object({ delay: z.enum(['paymentWindow', 'autoConfirmDelay']) }),
  },
  payment: {
    [PAYMENT_CAPTURE]: z.object({ paymentId: id }),
    [PAYMENT_REFUND]: z.object({ refundId: id }),
    [PAYMENT_CAPTURE_BATCH]: messageBatch,
    [PAYMENT_REFUND_BATCH]: messageBatch,
    [PAYMENT_SWEEP]: noData,
  },
  inventory: { RESTOCK: restock, ADJUST: adjustStock, [INVENTORY_RECONCILE]: noData },
  coupon: { EXPIRE: coupon, ACTIVATE: coupon, SWEEP: noData },
} as const;

export type Mailbox = keyof typeof MAILBOX_JOBS;
export type JobName<Q extends Mailbox> = keyof (typeof MAILBOX_JOBS)[Q] & string;
export type JobData<Q extends Mailbox, N extends JobName<Q>> = z.infer<(typeof MAILBOX_JOBS)[Q][N]>;
/** A parsed job of a mailbox: narrowing on `name` types `data`. */
export type MailboxJob<Q extends Mailbox> = {
  [N in JobName<Q>]: { name: N; data: JobData<Q, N> };
}[JobName<Q>];

export type PlaceOrderCommand = JobData<'order', 'PLACE'>;
export type CommandBatchMember = JobData<'order', typeof ORDER_COMMAND_BATCH>['commands'][number];
export type PayOrderCommand = JobData<'order', 'PAY'>;
export type RefundPaymentCommand = JobData<'order', 'REFUND'>;
export type OrderNotice = JobData<'order', typeof ORDER_NOTICE>;
export type RestockCommand = JobData<'inventory', 'RESTOCK'>;
export type AdjustStockCommand = JobData<'inventory', 'ADJUST'>;
export type CapturePaymentMessage = JobData<'payment', typeof PAYMENT_CAPTURE>;
export type RefundPaymentMessage = JobData<'payment', typeof PAYMENT_REFUND>;
export type MessageBatch = JobData<'payment', typeof PAYMENT_CAPTURE_BATCH>;
/** A lone message's name → the name of the job that carries several of them. */
export const BATCH_OF = {
  order: { [ORDER_NOTICE]: ORDER_NOTICE_BATCH },
  payment: { [PAYMENT_CAPTURE]: PAYMENT_CAPTURE_BATCH, [PAYMENT_REFUND]: PAYMENT_REFUND_BATCH },
} as const;

/** Order mailbox commands from clients, by job name. */
export const ORDER_COMMANDS = ['PLACE', 'CANCEL', 'CONFIRM', 'PAY', 'REFUND'] as const;
export type OrderCommandName = (typeof ORDER_COMMANDS)[number];
export type OrderCommands = { [N in OrderCommandName]: JobData<'order', N> };
/** A client command to the order mailbox, as parsed: its name and its data. */
export type OrderCommandMessage = Extract<MailboxJob<'order'>, { name: OrderCommandName }>;
/** A command on an existing order, as sent alone or as a member of a COMMAND_BATCH job. */
export type BatchedOrderCommand = Extract<
  MailboxJob<'order'>,
  { name: (typeof BATCHED_ORDER_COMMANDS)[number] }
>;
export type InventoryCommands = { RESTOCK: RestockCommand; ADJUST: AdjustStockCommand };

/** Every actor that takes client commands, and its commands by job name. */
export interface CommandMailboxes {
  order: OrderCommands;
  inventory: InventoryCommands;
}
