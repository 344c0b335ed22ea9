import type { EntityManager } from '@mikro-orm/postgresql';
import { doneReceiptsStatement } from '../commands/receipts';
import { type CommandDelivery, refuse, replyCommitted, type StepResult } from '../commands/run-command';
import type { AppContext } from '../context';
import { preparedStatement, query, sql } from '../db/sql';
import { WriteBatch } from '../db/write-batch';
import type { DomainError } from '../errors/domain-error';
import type { Logger } from '../logger';
import type { PlaceOrderCommand } from '../messaging/messages';
import { Outbox } from '../messaging/outbox';
import { perContext } from '../per-context';
import { currentTraceContext } from '../tracing/tracing';
import { type PreparedStep, prepareStep } from './commit-transition';
import { outOfStockError, reserveBatchStock, type StockLine, sumByProduct } from './effects/stock-plan';
import {
  businessDay,
  ensureOrderSequence,
  forgetMissingSequence,
  formatOrderNo,
  orderSequenceName,
} from './order-number';
import { insertOrders, insertTransitions, type NewOrder } from './order-store';
import {
  MAX_ORDER_TOTAL,
  type PlacementConfig,
  type ProductRow,
  placementStep,
  subtotalAtPrices,
} from './place-order';

/** At most this many placements commit together. */
const MAX_PLACEMENTS_PER_COMMIT = 64;
/**
 * Batches committing at once per process. One: while a batch commits the next one fills. Two were
 * tried (an order then never waits a whole transaction for its turn, and both lock stock rows in
 * product-id order, so they cannot deadlock) and measured worse at 8 clients on this box: smaller
 * batches, ~20 % more transactions and ~10 % more Redis commands per order, a lower rate
 * (test/bench/README.md, "Issue 11, the PLACE hop").
 */
const CONCURRENT_PLACEMENT_BATCHES = 1;

/** What the batch decided for one placement. */
type Decision =
  | { kind: 'placed'; result: StepResult }
  | { kind: 'refused'; error: DomainError }
  /** Not decided here (an unknown or unavailable product, a total too large): it runs on its own. */
  | { kind: 'alone' }
  /** The command has a receipt already (a keyed retry sent again): it is answered from it. */
  | { kind: 'receipted' };

/** Runs one placement on the ordinary path; `maybeDone` looks for its receipt first. */
export type RunAlone = (maybeDone?: boolean) => Promise<unknown>;

interface Member {
  command: PlaceOrderCommand;
  /** The trace of the member's own job: its outbox rows continue it. */
  traceContext: string | null;
  log: Logger;
  alone: RunAlone;
  settle: (outcome: Promise<unknown>) => void;
}

/**
 * Group commit of placements. The order worker hands over the plain placements it holds (no coupon,
 * no cart, first delivery); while one batch commits the next one fills — no timer, so a lone order
 * waits for nothing. A batch is one transaction: the products' stock rows locked in product-id order
 * and the day's order numbers in one read, every decision made in memory (first come, first served;
 * all or nothing per order), one multi-row write per table and one stock update per product. Any
 * error of the batch as a whole re-runs its members one by one on the ordinary path, so one bad
 * order never fails its neighbours.
 */
export class PlacementBatcher {
  private readonly waiting: Member[] = [];
  private committing = 0;
  private drainScheduled = false;

  constructor(private readonly ctx: AppContext) {}

  /** Resolves when this placement was carried out (placed, refused, or run alone). */
  submit(command: PlaceOrderCommand, log: Logger, alone: RunAlone): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({
        command,
        traceContext: currentTraceContext(),
        log,
        alone,
        settle: (outcome) => outcome.then(resolve, reject),
      });
      // Started after the current task: the members of one PLACE_BATCH job, submitted one after
      // another in the same tick, commit together instead of the first alone.
      if (this.committing < CONCURRENT_PLACEMENT_BATCHES && !this.drainScheduled) {
        this.drainScheduled = true;
        queueMicrotask(() => {
          this.drainScheduled = false;
          if (this.committing < CONCURRENT_PLACEMENT_BATCHES) void this.drain();
        });
      }
    });
  }

  private async drain(): Promise<void> {
    this.committing += 1;
    try {
      while (this.waiting.length > 0) {
        const members = this.waiting.splice(0, MAX_PLACEMENTS_PER_COMMIT);
        // Never leaves a member waiting: anything unexpected fails its jobs, which BullMQ retries
        // (a retry runs alone and finds the receipt if the batch did commit).
        await this.commitBatch(members).catch((error: unknown) => {
          for (const member of members) member.settle(Promise.reject(error));
        });
      }
    } finally {
      this.committing -= 1;
    }
  }

  private async commitBatch(members: Member[]): Promise<void> {
    const { ctx } = this;
    const log = members[0]!.log;
    const now = new Date();
    const day = businessDay(now, ctx.config.timezone);
    let decisions: Decision[];
    try {
      await ensureOrderSequence(ctx.orm.em.fork(), day);
      const em = ctx.orm.em.fork();
      decisions = await em
        .transactional((tx: EntityManager) =>
          placeOrders(
            tx,
            ctx.config,
            members.map((m) => m.command),
            now,
            day,
            members.map((m) => m.traceContext),
          ),
        )
        .catch((error: unknown) => {
          forgetMissingSequence(em, day, error);
          throw error;
        });
    } catch (error) {
      log.debug({ err: String(error), size: members.length }, 'placement batch failed; one by one');
      for (const member of members) member.settle(member.alone());
      return;
    }
    const placed = members.flatMap((member, i) => {
      const decision = decisions[i]!;
      return decision.kind === 'placed' ? [{ command: member.command, result: decision.result }] : [];
    });
    const answered = placed.length > 0 ? replyCommitted(ctx, placed, log) : Promise.resolve();
    members.forEach((member, i) => {
      const decision = decisions[i]!;
      if (decision.kind === 'placed') member.settle(answered);
      else if (decision.kind === 'refused')
        member.settle(refuse(ctx, 'PLACE', member.command, decision.error, member.log));
      else member.settle(member.alone(decision.kind === 'receipted'));
    });
    await answered.catch(() => undefined);
  }
}

/** The process's batcher for this shop context. */
export const placementBatcher = perContext((ctx: AppContext) => new PlacementBatcher(ctx));

/** A placement the batch can decide: plain lines, no coupon to hold, no cart to read, first delivery. */
export function batchable(delivery: CommandDelivery, command: PlaceOrderCommand): boolean {
  return (
    !command.fromCart &&
    !command.userCouponId &&
    (command.items?.length ?? 0) > 0 &&
    delivery.attemptsMade === 0 &&
    delivery.stalledCounter === 0
  );
}

interface LockedProduct extends ProductRow {
  available: number;
}

/** What a batch reads under its locks: the products' rows, the day's order numbers, receipts held. */
interface BatchReading {
  products: Map<string, LockedProduct>;
  /** Units still available per product, counted down as the batch places orders. */
  available: Map<string, number>;
  /** One order number per command, in command order. */
  sequences: string[];
  /** Commands with a receipt already; a command is added once the batch has decided it. */
  receipted: Set<string>;
}

/** A placement the batch places, as its step prepared it (written with the others). */
type Placed = PreparedStep & { order: NewOrder; outboxRows: number; outboxMessages: number };

/**
 * Places a batch of orders in the caller's transaction (see PlacementBatcher): returns one decision
 * per command, in order. Throws (rolling everything back) only for an error of the batch as a whole.
 * Reads under lock, decides each order in memory, then writes them all in one statement.
 */
export async function placeOrders(
  em: EntityManager,
  config: PlacementConfig,
  commands: PlaceOrderCommand[],
  now: Date,
  day: string,
  traceContexts: (string | null)[] = [],
): Promise<Decision[]> {
  const lines = commands.map((c) => sumByProduct(c.items ?? []));
  const reading = await lockAndRead(em, commands, lines, day);
  const outbox = new Outbox();
  const writes = new WriteBatch();
  const decided: (Decision | Placed)[] = [];
  for (const [i, command] of commands.entries()) {
    const decision = decide(command, lines[i]!, reading);
    if (decision) {
      decided.push(decision);
      continue;
    }
    const step = placementStep(config, command, {
      lines: lines[i]!,
      products: reading.products,
      orderNo: formatOrderNo(day, reading.sequences[i]!),
      coupon: undefined,
      now,
    });
    const own = new Outbox();
    const placed = {
      ...(await prepareStep(em, step, own, writes)),
      order: step.order,
      outboxRows: own.size,
      outboxMessages: own.messageCount,
    };
    outbox.adopt(own, traceContexts[i] ?? currentTraceContext());
    if (!placed.stock.onlyReservations()) throw new Error('a placement step did more than reserve stock');
    decided.push(placed);
  }
  const placed = decided.filter((d): d is Placed => !('kind' in d));
  if (placed.length > 0) await writePlacements(em, writes, outbox, placed, now);
  return decided.map((d) => ('kind' in d ? d : placedDecision(d)));
}

/**
 * The products' stock rows locked in product-id order, the day's order numbers and the receipts of
 * keyed commands: one statement. A keyed command may reach the mailbox twice (a retry sent in another
 * batch job): one with a receipt already is not placed again; a race past this read ends on the
 * receipt's primary key.
 */
async function lockAndRead(
  em: EntityManager,
  commands: PlaceOrderCommand[],
  lines: StockLine[][],
  day: string,
): Promise<BatchReading> {
  const productIds = [...new Set(lines.flat().map((l) => l.productId))].sort();
  const keyed = commands.flatMap((c) => (c.idempotencyKey ? [c.commandId] : []));
  const [row] = await query<{ products: LockedProduct[]; sequences: string[]; receipted: string[] }>(
    em,
    preparedStatement(sql`with locked as (
          select i.product_id as id, i.stock - i.reserved as available, p.name, p.price, p.category, p.status
          from inventory i join products p on p.id = i.product_id
          where i.product_id = any(${productIds}::uuid[]) order by i.product_id for update of i),
        numbers as (
          select nextval(${orderSequenceName(day)}::regclass)::text as n from generate_series(1, ${commands.length}))
        select (select coalesce(json_agg(locked), '[]'::json) from locked) as products,
               (select array_agg(n) from numbers) as sequences,
               array(select id from commands where id = any(${keyed}::text[])) as receipted`),
  );
  return {
    products: new Map(row!.products.map((p) => [p.id, p])),
    available: new Map(row!.products.map((p) => [p.id, p.available])),
    sequences: row!.sequences,
    receipted: new Set(row!.receipted),
  };
}

/**
 * What the batch decides for one command without placing it (first come, first served; all or
 * nothing per order), or undefined: place it, its units taken from `available`.
 */
function decide(command: PlaceOrderCommand, lines: StockLine[], reading: BatchReading): Decision | undefined {
  const { receipted, products, available } = reading;
  if (receipted.has(command.commandId)) return { kind: 'receipted' };
  receipted.add(command.commandId); // the same command twice in one batch: the second replays the first
  if (!decidable(lines, products)) return { kind: 'alone' };
  const short = lines.filter((l) => available.get(l.productId)! < l.quantity);
  if (short.length > 0) return { kind: 'refused', error: outOfStockError(short, available) };
  for (const l of lines) available.set(l.productId, available.get(l.productId)! - l.quantity);
  return undefined;
}

/** Every placed order's rows, one multi-row statement per table, and one stock update per product. */
async function writePlacements(
  em: EntityManager,
  writes: WriteBatch,
  outbox: Outbox,
  placed: Placed[],
  now: Date,
): Promise<void> {
  insertOrders(
    writes,
    placed.map((p) => ({ order: p.order, snapshot: p.step.next })),
    now,
  );
  insertTransitions(
    writes,
    placed.map((p) => p.transition),
  );
  outbox.writeTo(writes, now);
  writes.add(
    doneReceiptsStatement(
      placed.flatMap((p) => (p.receipt ? [p.receipt] : [])),
      now,
    ),
  );
  const totals = sumByProduct(placed.flatMap((p) => p.stock.onlyReservations()!));
  reserveBatchStock(writes, totals, () => new Error('placement batch: a stock row moved under its lock'));
  // The batch's last statement: it goes out with the COMMIT.
  await writes.flush(em, { hot: true, atCommit: true });
}

function placedDecision(p: Placed): Decision {
  const reserved = p.stock.onlyReservations()!;
  return {
    kind: 'placed',
    result: {
      answer: p.answer,
      touchedProducts: reserved.map((l) => l.productId),
      // The stock gate settles each member's take after commit (replyCommitted).
      stockChanges: reserved.map((l) => ({ productId: l.productId, quantity: -l.quantity })),
      outboxRows: p.outboxRows,
      outboxMessages: p.outboxMessages,
      view: p.view,
      timers: p.timers,
    },
  };
}

/** Every product known, on sale and stocked, and a total in range: else the ordinary path decides. */
function decidable(lines: StockLine[], products: Map<string, LockedProduct>): boolean {
  if (!lines.every((l) => products.get(l.productId)?.status === 'ON_SALE')) return false;
  return subtotalAtPrices(lines, products) <= MAX_ORDER_TOTAL;
}
