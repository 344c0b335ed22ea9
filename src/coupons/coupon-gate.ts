import type { AppContext } from '../context';
import type { CouponStatus } from '../db/schema/coupon.entity';
import { luaScript } from './lua-script';

/**
 * The Redis gate of first-come issuance (SPEC §5). Per issuable coupon: the set of users who claimed
 * one (`coupon:<id>:users`), the counter of what is left (`coupon:<id>:remaining`) and its validity
 * window (`coupon:<id>:window`, which never changes). One Lua script decides a request atomically,
 * so a stampede of buyers is answered from Redis alone and only the winners reach PostgreSQL.
 *
 * Redis is the gate, PostgreSQL the truth. The issuing transaction inserts the user coupon
 * (UNIQUE(coupon_id, user_id)) and raises `issued_count` only `where issued_count < total_quantity`
 * and while the coupon is issuable (a CHECK repeats the bound), so whatever state the gate is in,
 * PostgreSQL never issues more than totalQuantity or two to one user. A gate that is wrong can only
 * cause wasted work or a wrong guess that the database corrects (see giveBackClaim).
 *
 * A coupon that may not be issued (SUSPENDED, CANCELLED, EXPIRED) has no gate: the status change
 * drops it, and a request that finds no gate asks PostgreSQL (coupon-gate-rebuild.ts), which
 * answers 404 or 400 or rebuilds the gate.
 */

export type ClaimVerdict =
  | 'CLAIMED'
  | 'ALREADY_ISSUED'
  | 'SOLD_OUT'
  | 'RATE_LIMITED'
  | 'OUTSIDE_WINDOW'
  | 'NO_GATE';

/** Why a claim is handed back after PostgreSQL refused or failed to record it. */
export type GiveBackReason = 'NOT_RECORDED' | 'ALREADY_HELD' | 'SOLD_OUT';

/** Statuses in which a coupon has a gate (EXHAUSTED keeps one to tell holders from latecomers). */
export const GATED_STATUSES: readonly CouponStatus[] = ['CREATED', 'ACTIVE', 'EXHAUSTED'];

export const couponGateKeys = (ctx: AppContext, couponId: string) => ({
  users: ctx.key('coupon', couponId, 'users'),
  remaining: ctx.key('coupon', couponId, 'remaining'),
  window: ctx.key('coupon', couponId, 'window'),
});

const RATE_WINDOW_S = 60;

const claimScript = luaScript(`
local remaining = redis.call('GET', KEYS[2])
local window = redis.call('GET', KEYS[4])
if not remaining or not window then return 'NO_GATE' end
local calls = redis.call('INCR', KEYS[3])
if calls == 1 then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
if calls > tonumber(ARGV[2]) then return 'RATE_LIMITED' end
local opens, closes = string.match(window, '^(%d+) (%d+)$')
local now = tonumber(ARGV[4])
if now < tonumber(opens) or now >= tonumber(closes) then return 'OUTSIDE_WINDOW' end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'ALREADY_ISSUED' end
if tonumber(remaining) <= 0 then return 'SOLD_OUT' end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('DECR', KEYS[2])
return 'CLAIMED'
`);

// A missing gate is left alone: the next request rebuilds it from PostgreSQL.
const giveBackScript = luaScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if ARGV[2] == 'SOLD_OUT' then
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], 0)
elseif ARGV[2] == 'ALREADY_HELD' then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('INCR', KEYS[2])
elseif redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[2])
end
return 1
`);

/**
 * One atomic step: counts the request against the user's issue rate, checks the window, then refuses
 * a user already in the set, refuses when nothing remains, or claims (SADD + DECR). NO_GATE when the
 * coupon has no gate (never built, flushed, or not issuable).
 */
export async function claimCouponSlot(
  ctx: AppContext,
  couponId: string,
  userId: string,
  now: Date,
): Promise<ClaimVerdict> {
  const keys = couponGateKeys(ctx, couponId);
  const verdict = await claimScript(
    ctx.redis,
    [keys.users, keys.remaining, ctx.key('coupon-issue-rate', userId), keys.window],
    [userId, ctx.config.couponIssueRatePerMin, RATE_WINDOW_S, now.getTime()],
  );
  return verdict as ClaimVerdict;
}

/**
 * Corrects the gate after PostgreSQL had the last word on a claim: NOT_RECORDED undoes the claim,
 * ALREADY_HELD keeps the user in the set but returns the slot (the user had one already), SOLD_OUT
 * drops the user and sets the counter to 0 (PostgreSQL has none left, for good).
 */
export async function giveBackClaim(
  ctx: AppContext,
  couponId: string,
  userId: string,
  reason: GiveBackReason,
): Promise<void> {
  const keys = couponGateKeys(ctx, couponId);
  await giveBackScript(ctx.redis, [keys.users, keys.remaining], [userId, reason]);
}

/** A coupon that may not be issued now (suspended, cancelled, expired) has no gate. */
export async function dropCouponGate(ctx: AppContext, couponId: string): Promise<void> {
  const keys = couponGateKeys(ctx, couponId);
  await ctx.redis.unlink(keys.users, keys.remaining, keys.window);
}
