import type { AppContext } from '../context';
import { luaScript } from '../coupons/lua-script';
import { soldOutMemo } from './sold-out-memo';

/**
 * The Redis stock gate in front of placements (issue 12). Two hashes under one hash tag, so every
 * script touches a single slot (cluster-safe) and an order's lines are taken all-or-nothing:
 *
 * - `available`: product id → units the gate may still hand out;
 * - `takes`: command id → "<ms> <productId> <qty> …", the units a command took and PostgreSQL has
 *   not settled yet. A command is taken at most once, so a retried command gets the same answer.
 *
 * PostgreSQL stays the truth: the conditional update and the CHECK constraint decide every
 * reservation; the gate only keeps losers away from the mailbox and the database. Steady state:
 * available = (stock − reserved) − Σ takes in flight. A committed placement removes its take; a
 * refused one gives its units back; a committed release, restock or correction adds its units.
 * A product missing from the gate (never built, flushed) is rebuilt from PostgreSQL on first use
 * (stock-gate-rebuild.ts), so a flushed Redis costs a rebuild, never an oversell: PostgreSQL still
 * refuses what the gate wrongly admits.
 */

export interface GateLine {
  productId: string;
  quantity: number;
}

export type TakeVerdict =
  /** Units taken for this command now. */
  | { kind: 'TAKEN' }
  /** This command took its units before (a retry): nothing taken again. */
  | { kind: 'TAKEN_BEFORE' }
  | { kind: 'SOLD_OUT'; short: { productId: string; requested: number; available: number }[] }
  /** Some products have no counter in the gate yet. */
  | { kind: 'NO_GATE'; missing: string[] };

export const stockGateKeys = (ctx: AppContext) => ({
  available: ctx.key('{stock-gate}', 'available'),
  takes: ctx.key('{stock-gate}', 'takes'),
});

/** Lua: the units each product has in flight, summed over the takes hash (local `held`). */
export const HELD_BY_TAKES_LUA = `
local held = {}
for _, take in ipairs(redis.call('HVALS', KEYS[2])) do
  local first = true
  local product
  for token in string.gmatch(take, '%S+') do
    if first then first = false
    elseif not product then product = token
    else held[product] = (held[product] or 0) + tonumber(token); product = nil end
  end
end
`;

// The success path costs HMGET, HSETNX and one HINCRBY per product; a refusal HMGET and HEXISTS (a
// retried command that took before is answered TAKEN_BEFORE whatever the counters say now).
const takeScript = luaScript(`
local products = {}
for i = 3, #ARGV, 2 do products[#products + 1] = ARGV[i] end
local counts = redis.call('HMGET', KEYS[1], unpack(products))
local missing = {}
for i, count in ipairs(counts) do if not count then missing[#missing + 1] = products[i] end end
local short = {}
if #missing == 0 then
  for i, count in ipairs(counts) do
    local wanted = tonumber(ARGV[2 + 2 * i])
    if tonumber(count) < wanted then
      short[#short + 1] = products[i]; short[#short + 1] = tostring(wanted); short[#short + 1] = count
    end
  end
end
if #missing > 0 or #short > 0 then
  if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'TAKEN_BEFORE'} end
  if #missing > 0 then return {'NO_GATE', unpack(missing)} end
  return {'SOLD_OUT', unpack(short)}
end
local record = ARGV[2]
for i = 3, #ARGV, 2 do record = record .. ' ' .. ARGV[i] .. ' ' .. ARGV[i + 1] end
if redis.call('HSETNX', KEYS[2], ARGV[1], record) == 0 then return {'TAKEN_BEFORE'} end
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) end
return {'TAKEN'}
`);
// After steps committed (one call for a whole batch): each step's take (if any) is settled, and its
// committed changes of available stock reach the gate — except the reservations its take had already
// paid for. Missing counters are left to the next rebuild (which reads PostgreSQL, changes included).
// The takes of a batch are read with one HMGET and removed with one HDEL (a lone take: one HDEL).
// ARGV: per step, its command id ('' for none), its number of changes, then product, delta pairs.
const settleScript = luaScript(`
local ids = {}
local i = 1
while i <= #ARGV do
  if ARGV[i] ~= '' then ids[#ids + 1] = ARGV[i] end
  i = i + 2 + 2 * tonumber(ARGV[i + 1])
end
local prepaid = {}
if #ids == 1 then
  prepaid[ids[1]] = redis.call('HDEL', KEYS[2], ids[1]) == 1
elseif #ids > 1 then
  local takes = redis.call('HMGET', KEYS[2], unpack(ids))
  for k, take in ipairs(takes) do prepaid[ids[k]] = take ~= false end
  redis.call('HDEL', KEYS[2], unpack(ids))
end
local settled = 0
i = 1
while i <= #ARGV do
  -- A take pays for one step: a command named twice settles once, as with one HDEL per step.
  local paid = ARGV[i] ~= '' and prepaid[ARGV[i]]
  if paid then settled = settled + 1; prepaid[ARGV[i]] = false end
  local count = tonumber(ARGV[i + 1])
  for j = i + 2, i + 2 * count, 2 do
    local delta = tonumber(ARGV[j + 1])
    if not (paid and delta < 0) and redis.call('HEXISTS', KEYS[1], ARGV[j]) == 1 then
      redis.call('HINCRBY', KEYS[1], ARGV[j], delta)
    end
  end
  i = i + 2 + 2 * count
end
return settled
`);

// PostgreSQL refused (or will never commit) a command that took units: they go back to the gate.
const giveBackScript = luaScript(`
local take = redis.call('HGET', KEYS[2], ARGV[1])
if not take then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local first = true
local product
for token in string.gmatch(take, '%S+') do
  if first then first = false
  elseif not product then product = token
  else
    if redis.call('HEXISTS', KEYS[1], product) == 1 then redis.call('HINCRBY', KEYS[1], product, tonumber(token)) end
    product = nil
  end
end
return 1
`);

const flatten = (lines: readonly GateLine[]) => lines.flatMap((l) => [l.productId, l.quantity]);

/**
 * Takes an order's lines all-or-nothing for a command (lines summed per product, as StockPlan does).
 * A command that already took answers TAKEN_BEFORE without taking again.
 */
export async function takeStock(
  ctx: AppContext,
  commandId: string,
  lines: readonly GateLine[],
  now = Date.now(),
): Promise<TakeVerdict> {
  const keys = stockGateKeys(ctx);
  const reply = (await takeScript(
    ctx.redis,
    [keys.available, keys.takes],
    [commandId, now, ...flatten(lines)],
  )) as string[];
  const [kind, ...rest] = reply;
  if (kind === 'NO_GATE') return { kind, missing: rest };
  if (kind === 'SOLD_OUT') {
    const short = [];
    for (let i = 0; i < rest.length; i += 3) {
      short.push({
        productId: rest[i]!,
        requested: Number(rest[i + 1]),
        available: Math.max(0, Number(rest[i + 2])),
      });
    }
    return { kind, short };
  }
  return { kind: kind === 'TAKEN_BEFORE' ? 'TAKEN_BEFORE' : 'TAKEN' };
}

/** One committed step as the stock gate sees it. */
export interface CommittedStock {
  /** The command that ran the step: a take it made is settled. */
  commandId?: string | undefined;
  /** Committed changes of available units: reservations negative, releases and restocks positive. */
  changes: readonly GateLine[];
}

/**
 * After commit, one Redis call for any number of steps (a placement batch): each step's take is
 * settled and its changes reach the gate, except reservations its take had already paid for.
 */
export async function settleStock(ctx: AppContext, steps: readonly CommittedStock[]): Promise<void> {
  const relevant = steps.filter((s) => s.changes.length > 0);
  if (!ctx.config.stockGate || relevant.length === 0) return;
  const returned = relevant.flatMap((s) => s.changes.filter((c) => c.quantity > 0).map((c) => c.productId));
  if (returned.length > 0) soldOutMemo(ctx).forget(returned);
  const keys = stockGateKeys(ctx);
  await settleScript(
    ctx.redis,
    [keys.available, keys.takes],
    relevant.flatMap((s) => [s.commandId ?? '', s.changes.length, ...flatten(s.changes)]),
  );
}

/** A command that took units will not reserve them (PostgreSQL refused, or it ended otherwise). */
export async function giveBackTake(ctx: AppContext, commandId: string): Promise<boolean> {
  if (!ctx.config.stockGate) return false;
  const keys = stockGateKeys(ctx);
  const given = (await giveBackScript(ctx.redis, [keys.available, keys.takes], [commandId])) === 1;
  if (given) soldOutMemo(ctx).forget();
  return given;
}

/** The takes in flight: command id → when it took and what. */
export async function readTakes(
  ctx: AppContext,
): Promise<{ commandId: string; at: number; lines: GateLine[] }[]> {
  const all = await ctx.redis.hgetall(stockGateKeys(ctx).takes);
  return Object.entries(all).map(([commandId, record]) => {
    const [at, ...tokens] = record.split(' ');
    const lines: GateLine[] = [];
    for (let i = 0; i + 1 < tokens.length; i += 2)
      lines.push({ productId: tokens[i]!, quantity: Number(tokens[i + 1]) });
    return { commandId, at: Number(at), lines };
  });
}

/** A new product's counter (kept if a placement already built it from PostgreSQL). */
export async function openStockCounter(ctx: AppContext, productId: string, units: number): Promise<void> {
  if (!ctx.config.stockGate) return;
  await ctx.redis.hsetnx(stockGateKeys(ctx).available, productId, units);
}

/**
 * A product taken off sale has no counter, so its orders reach the worker and hear
 * PRODUCT_NOT_AVAILABLE; back on sale, the next order builds it from PostgreSQL.
 */
export async function closeStockCounter(ctx: AppContext, productId: string): Promise<void> {
  if (!ctx.config.stockGate) return;
  await ctx.redis.hdel(stockGateKeys(ctx).available, productId);
  soldOutMemo(ctx).forget([productId]);
}
