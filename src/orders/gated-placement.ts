import { type Shortage, soldOutMemo } from '../catalog/sold-out-memo';
import { type GateLine, giveBackTake, type TakeVerdict, takeStock } from '../catalog/stock-gate';
import { ensureStockGate } from '../catalog/stock-gate-rebuild';
import { type CommandResult, dispatchOrderCommand } from '../commands/dispatch';
import { commandIdFor } from '../commands/receipts';
import type { AppContext } from '../context';
import type { ErrorDetail } from '../errors/domain-error';
import { uuidv7 } from '../ids';
import type { PlaceOrderCommand } from '../messaging/messages';
import { shortageDetail, sumByProduct } from './effects/stock-plan';

type PlaceRequest = Omit<PlaceOrderCommand, 'commandId' | 'requestHash' | 'idempotencyKey'>;

/** A placement the stock gate refused: answered 409 OUT_OF_STOCK without mailbox or database. */
export interface SoldOut {
  state: 'sold-out';
  details: ErrorDetail[];
}

/**
 * POST /orders through the stock gate. An order of explicit items takes its units in Redis first
 * (all lines or none, keyed by the command id); a sold-out order is answered from the gate alone.
 * A taken order goes to the mailbox as before, and PostgreSQL decides: the worker settles the take
 * on commit and gives it back on a refusal. With an Idempotency-Key, a refusal still goes through
 * the mailbox (the receipt replays the first answer), and a take made for a command that already
 * has a receipt is given back. Cart orders (their lines live in PostgreSQL) skip the gate; their
 * committed reservation is taken from it after commit.
 */
export async function placeThroughGate(
  ctx: AppContext,
  request: PlaceRequest,
  idempotencyKey: string | undefined,
): Promise<CommandResult | SoldOut> {
  if (!ctx.config.stockGate || !request.items) {
    return dispatchOrderCommand(ctx, 'PLACE', request, { idempotencyKey });
  }
  const known = knownSoldOut(ctx, request.items, idempotencyKey);
  if (known) return known;
  const lines = sumByProduct(request.items);
  const memo = soldOutMemo(ctx);
  const commandId = idempotencyKey ? commandIdFor(request.userId, 'PLACE', idempotencyKey) : uuidv7();
  const verdict = await takeWithRebuild(ctx, commandId, lines);
  if (verdict.kind === 'SOLD_OUT') {
    memo.remember(verdict.short, Date.now());
    if (!idempotencyKey) return soldOut(verdict.short);
  }
  let result: CommandResult;
  try {
    result = await dispatchOrderCommand(ctx, 'PLACE', request, { idempotencyKey, commandId });
  } catch (error) {
    if (verdict.kind === 'TAKEN') await giveBack(ctx, commandId);
    throw error;
  }
  if (verdict.kind === 'TAKEN' && result.state === 'done' && result.replayed) await giveBack(ctx, commandId);
  return result;
}

/**
 * The sold-out answer the memo already has for an order of explicit items (no Redis, mailbox or
 * PostgreSQL), or undefined. Never for a keyed request: its receipt must replay the first answer. The
 * sold-out lane in front of the router asks this too (src/http/sold-out-order-lane.ts).
 */
export function knownSoldOut(
  ctx: AppContext,
  items: PlaceRequest['items'],
  idempotencyKey: string | undefined,
): SoldOut | undefined {
  if (!ctx.config.stockGate || !items || idempotencyKey) return undefined;
  const memo = soldOutMemo(ctx);
  if (!memo.knowsAny(Date.now())) return undefined;
  const known = memo.shortOf(sumByProduct(items), Date.now());
  return known && soldOut(known);
}

const soldOut = (short: readonly Shortage[]): SoldOut => ({
  state: 'sold-out',
  details: short.map(shortageDetail),
});

/** Products the gate does not know yet are built from PostgreSQL, then the take is tried again. */
async function takeWithRebuild(ctx: AppContext, commandId: string, lines: GateLine[]): Promise<TakeVerdict> {
  const verdict = await takeStock(ctx, commandId, lines);
  if (verdict.kind !== 'NO_GATE') return verdict;
  await ensureStockGate(ctx, verdict.missing);
  // Still NO_GATE for a product PostgreSQL does not know: the worker answers PRODUCT_NOT_FOUND.
  return takeStock(ctx, commandId, lines);
}

const giveBack = (ctx: AppContext, commandId: string) =>
  giveBackTake(ctx, commandId).catch((err) =>
    ctx.log.warn({ err: String(err), commandId }, 'stock gate take not given back'),
  );
