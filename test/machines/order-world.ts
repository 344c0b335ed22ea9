import fc from 'fast-check';
import { initialTransition, transition } from 'xstate';
import { type OrderEvent, orderMachine } from '../../machines/order.machine';
import type { OrderSnapshot } from '../../machines/order-snapshot';
import { interpretActions } from '../../src/orders/machine-actions';
import type { AnyOrderEvent } from './order-alphabet';
import { effectNames, leafOf, ORDER_INPUT } from './order-graph';

/**
 * One order and the world around it, for property tests: clients send commands at any time, the
 * clock moves, timeouts fire (or get lost), and the payment actor and gateway answer what the order
 * asked for — each answer once, in any order. The world keeps its own books of the money that
 * actually moved, to hold the machine's bookkeeping against them.
 */

type Outcome = 'success' | 'failure' | 'failureThenCapture';

export type Move =
  | { kind: 'PAY' | 'CANCEL' | 'CONFIRM' | 'EXPIRE' | 'AUTO_CONFIRM' }
  | { kind: 'REFUND'; amount: number | 'rest'; restock: boolean }
  | { kind: 'wait'; ms: number }
  | { kind: 'fireTimer'; pick: number }
  | { kind: 'answer'; pick: number; outcome: Outcome };

const command = (kind: 'PAY' | 'CANCEL' | 'CONFIRM' | 'EXPIRE' | 'AUTO_CONFIRM', weight: number) => ({
  weight,
  arbitrary: fc.constant<Move>({ kind }),
});

/** Weighted so that most histories get paid and refunded before a timeout or a cancel ends them. */
export const moveArbitrary: fc.Arbitrary<Move> = fc.oneof(
  command('PAY', 4),
  command('CANCEL', 1),
  command('CONFIRM', 1),
  command('EXPIRE', 1),
  command('AUTO_CONFIRM', 1),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('REFUND' as const),
      // 'rest' is what the API sends when no amount is given.
      amount: fc.oneof(
        fc.integer({ min: 0, max: ORDER_INPUT.total + 1 }),
        fc.constantFrom(2_500, 5_000, 'rest' as const),
      ),
      restock: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('wait' as const),
      ms: fc.constantFrom(60_000, ORDER_INPUT.paymentTimeoutMs, ORDER_INPUT.autoConfirmMs),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fireTimer' as const), pick: fc.nat() }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom<Outcome>('success', 'success', 'success', 'failure', 'failureThenCapture'),
    }),
  },
);

const paidFirst: Move[] = [{ kind: 'PAY' }, { kind: 'answer', pick: 0, outcome: 'success' }];

/** Histories of an order; half of them start with a successful payment, to spend their moves after it. */
export const historyArbitrary: fc.Arbitrary<Move[]> = fc.oneof(
  fc.array(moveArbitrary, { maxLength: 50 }),
  fc.array(moveArbitrary, { maxLength: 50 }).map((moves) => [...paidFirst, ...moves]),
);

/** Something the order asked another actor for, whose answer has not come yet. */
type Request =
  | { kind: 'capture'; paymentId: string; amount: number; late: boolean }
  | {
      kind: 'refund';
      refundId: string;
      paymentId: string;
      amount: number;
      restock: boolean;
      pending: boolean;
    };

const add = (books: Map<string, number>, key: string, amount: number) =>
  books.set(key, (books.get(key) ?? 0) + amount);

export class OrderWorld {
  snapshot: OrderSnapshot;
  now = ORDER_INPUT.placedAt;
  readonly timers = new Map<string, { event: string; dueAt: number }>();
  readonly requests: Request[] = [];
  /** Money as the gateway saw it, per payment. */
  readonly captured = new Map<string, number>();
  readonly refunded = new Map<string, number>();
  /** Refunds the payment actor gave up on (MANUAL, for staff): no money moved. */
  readonly failedRefunds = new Map<string, number>();
  readonly statuses: string[] = [];
  readonly effects: string[] = [];
  readonly ignoredAnswers: string[] = [];
  private ids = 0;

  /** `onSnapshot` sees every snapshot the order reaches (the first included), before it moves on. */
  constructor(private readonly onSnapshot: (snapshot: OrderSnapshot) => void = () => {}) {
    const [snapshot, actions] = initialTransition(orderMachine, ORDER_INPUT);
    onSnapshot(snapshot);
    this.snapshot = snapshot;
    this.statuses.push(leafOf(snapshot).split('.')[0]!);
    this.carryOut(snapshot, snapshot, { type: 'PLACE', at: this.now } as unknown as OrderEvent, actions);
  }

  play(move: Move): void {
    const at = this.now;
    if (move.kind === 'PAY')
      this.send({ type: 'PAY', paymentId: `payment-${++this.ids}`, method: 'CARD', at });
    else if (move.kind === 'REFUND') this.refund(move.amount, move.restock);
    else if (move.kind === 'wait') this.now += move.ms;
    else if (move.kind === 'fireTimer') this.fireTimer(move.pick);
    else if (move.kind === 'answer') this.answer(move.pick, move.outcome);
    else this.send({ type: move.kind, at } as OrderEvent);
  }

  /** A refund as the API asks for it: no amount means all that is left. */
  private refund(amount: number | 'rest', restock: boolean) {
    const c = this.snapshot.context;
    const rest = c.total - c.refundedAmount - c.pendingRefundAmount;
    const refundId = `refund-${++this.ids}`;
    this.send({ type: 'REFUND', refundId, amount: amount === 'rest' ? rest : amount, restock, at: this.now });
  }

  /** Every outstanding request answered with success, oldest first, until nothing is left. */
  settleEverything(): void {
    while (this.requests.length > 0) this.answer(0, 'success');
  }

  private fireTimer(pick: number) {
    const names = [...this.timers.keys()];
    if (names.length === 0) return;
    const name = names[pick % names.length]!;
    const timer = this.timers.get(name)!;
    this.timers.delete(name);
    this.now = Math.max(this.now, timer.dueAt);
    this.send({ type: timer.event, at: this.now } as AnyOrderEvent);
  }

  private answer(pick: number, outcome: Outcome) {
    if (this.requests.length === 0) return;
    const [request] = this.requests.splice(pick % this.requests.length, 1) as [Request];
    this.now += 1_000;
    const at = this.now;
    if (request.kind === 'capture') {
      if (outcome === 'success' || request.late) {
        add(this.captured, request.paymentId, request.amount);
        this.answerWith({
          type: 'PAYMENT_SUCCEEDED',
          paymentId: request.paymentId,
          amount: request.amount,
          at,
        });
      } else {
        if (outcome === 'failureThenCapture') this.requests.push({ ...request, late: true });
        this.answerWith({
          type: 'PAYMENT_FAILED',
          paymentId: request.paymentId,
          reason: 'GATEWAY_TIMEOUT',
          at,
        });
      }
    } else if (outcome === 'success') {
      add(this.refunded, request.paymentId, request.amount);
      const { refundId, paymentId, amount, restock } = request;
      this.answerWith({ type: 'REFUND_COMPLETED', refundId, paymentId, amount, restock, at });
    } else {
      add(this.failedRefunds, request.paymentId, request.amount);
      const { refundId, paymentId, amount } = request;
      this.answerWith({ type: 'REFUND_FAILED', refundId, paymentId, amount, at });
    }
  }

  /** An answer from another actor: the order must never ignore one (it would lose track of money). */
  private answerWith(event: OrderEvent) {
    if (!this.send(event)) this.ignoredAnswers.push(`${event.type} in ${leafOf(this.snapshot)}`);
  }

  /** What the worker does with a message: ignore it if the machine refuses, else carry out the step. */
  private send(event: AnyOrderEvent): boolean {
    if (!this.snapshot.can(event as OrderEvent)) return false;
    const before = this.snapshot;
    const [next, actions] = transition(orderMachine, before, event as OrderEvent);
    this.snapshot = next;
    this.onSnapshot(next);
    const status = leafOf(next).split('.')[0]!;
    if (status !== this.statuses.at(-1)) this.statuses.push(status);
    this.carryOut(before, next, event, actions);
    return true;
  }

  private carryOut(
    before: OrderSnapshot,
    next: OrderSnapshot,
    event: AnyOrderEvent,
    actions: readonly { type: string; params?: unknown }[],
  ) {
    const e = event as Partial<{ paymentId: string; amount: number; restock: boolean; refundId: string }>;
    for (const name of effectNames(actions)) {
      this.effects.push(name);
      if (name === 'createPayment') {
        this.requests.push({
          kind: 'capture',
          paymentId: e.paymentId!,
          amount: next.context.total,
          late: false,
        });
      } else if (name === 'requestRefund') {
        this.refundRequest(next.context.paymentId!, e.amount!, e.restock!, true);
      } else if (name === 'requestFullRefund') {
        const c = before.context;
        this.refundRequest(
          next.context.paymentId!,
          c.total - c.refundedAmount - c.pendingRefundAmount,
          true,
          true,
        );
      } else if (name === 'refundLateCapture') {
        this.refundRequest(e.paymentId!, e.amount!, false, false);
      }
    }
    for (const timer of interpretActions(actions).timers) {
      if (timer.kind === 'cancel') this.timers.delete(timer.delayName);
      else this.timers.set(timer.delayName, { event: timer.event.type, dueAt: this.now + timer.delayMs });
    }
  }

  private refundRequest(paymentId: string, amount: number, restock: boolean, pending: boolean) {
    this.requests.push({
      kind: 'refund',
      refundId: `refund-${++this.ids}`,
      paymentId,
      amount,
      restock,
      pending,
    });
  }

  /** Refunds asked for but not answered yet that the order counts as pending. */
  pendingRefunds(): number {
    return this.requests.reduce((sum, r) => sum + (r.kind === 'refund' && r.pending ? r.amount : 0), 0);
  }

  /** Per payment: captured − refunded, i.e. what the shop still holds. */
  moneyHeld(): Map<string, number> {
    return new Map([...this.captured].map(([id, amount]) => [id, amount - (this.refunded.get(id) ?? 0)]));
  }

  /** Per payment: refunds asked for and not answered yet. */
  refundsUnderWay(paymentId: string): number {
    return this.requests.reduce(
      (sum, r) => sum + (r.kind === 'refund' && r.paymentId === paymentId ? r.amount : 0),
      0,
    );
  }

  count(effect: string): number {
    return this.effects.filter((e) => e === effect).length;
  }
}
