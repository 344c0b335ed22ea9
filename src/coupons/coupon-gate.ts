import type { AppContext } from '../context';
import type { CouponStatus } from '../db/schema/coupon.entity';
import { hashTag } from '../messaging/redis';
import { perContext } from '../per-context';
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
 * answers 404 or 400 or rebuilds the gate. Each drop counts up the coupon's `epoch`, so a rebuild
 * that read PostgreSQL before the status change cannot install its gate after the drop.
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

export interface CouponGateKeys {
  readonly users: string;
  readonly remaining: string;
  readonly window: string;
  /** Counted up by every drop; outlives the gate (see dropCouponGate). */
  readonly epoch: string;
  /** The recent claims, user → when (ms): what a rebuild's snapshot may not show yet (see below). */
  readonly claims: string;
}

/** Gate keys built per coupon once per context: a rush asks for the same three keys per request. */
const gateKeysMemo = perContext((_ctx: AppContext) => new Map<string, CouponGateKeys>());
const GATE_KEYS_MEMO_SIZE = 1_000;

/** A coupon's gate keys share its hash tag, so one script may touch them all on a cluster. */
export function couponGateKeys(ctx: AppContext, couponId: string): CouponGateKeys {
  const memo = gateKeysMemo(ctx);
  let keys = memo.get(couponId);
  if (!keys) {
    const tag = hashTag('coupon', couponId);
    keys = Object.freeze({
      users: ctx.key(tag, 'users'),
      remaining: ctx.key(tag, 'remaining'),
      window: ctx.key(tag, 'window'),
      epoch: ctx.key(tag, 'epoch'),
      claims: ctx.key(tag, 'claims'),
    });
    if (memo.size >= GATE_KEYS_MEMO_SIZE) memo.clear();
    memo.set(couponId, keys);
  }
  return keys;
}

/** A user's issue-rate counter: its own key (and slot), apart from any coupon's gate. */
const issueRateKey = (ctx: AppContext, userId: string) => ctx.key(hashTag('coupon-issue-rate', userId));

const RATE_WINDOW_S = 60;

// KEYS: the issue-rate counter. ARGV: the limit, the window in seconds. 1 when within the rate.
const countRequestScript = luaScript(`
local calls = redis.call('INCR', KEYS[1])
if calls == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if calls > tonumber(ARGV[1]) then return 0 end
return 1
`);

/**
 * How long a claim is remembered in `claims`: longer than a claim takes to commit and a rebuild takes
 * from its snapshot to its swap. A rebuild counts the remembered claims its snapshot lacks (rows that
 * commit after it, or are still to commit) as taken, so the rebuilt gate matches PostgreSQL once they
 * commit; a claim PostgreSQL refused is forgotten when it is handed back.
 */
export const CLAIM_MEMORY_MS = 60_000;

// KEYS: the gate's users, remaining, window, claims. ARGV: the user, now (ms), claim memory (s).
const claimScript = luaScript(`
local remaining = redis.call('GET', KEYS[2])
local window = redis.call('GET', KEYS[3])
if not remaining or not window then return 'NO_GATE' end
local opens, closes = string.match(window, '^(%d+) (%d+)$')
local now = tonumber(ARGV[2])
if now < tonumber(opens) or now >= tonumber(closes) then return 'OUTSIDE_WINDOW' end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'ALREADY_ISSUED' end
if tonumber(remaining) <= 0 then return 'SOLD_OUT' end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('DECR', KEYS[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[3])
return 'CLAIMED'
`);

// KEYS: the gate's users, remaining, claims. A missing gate is left alone: the next request rebuilds
// it from PostgreSQL. A refused claim is forgotten (a user already holding one keeps the entry).
const giveBackScript = luaScript(`
if ARGV[2] ~= 'ALREADY_HELD' then redis.call('HDEL', KEYS[3], ARGV[1]) end
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
 * Counts an issue request against the user's rate (COUPON_ISSUE_RATE_PER_MIN, over all coupons);
 * false past it. Apart from the claim: the counter is the user's, the gate the coupon's, and on a
 * cluster one script may only touch keys of one slot.
 */
export async function withinIssueRate(ctx: AppContext, userId: string): Promise<boolean> {
  const within = await countRequestScript(
    ctx.redis,
    [issueRateKey(ctx, userId)],
    [ctx.config.couponIssueRatePerMin, RATE_WINDOW_S],
  );
  return Number(within) === 1;
}

/**
 * One atomic step on the coupon's gate: checks the window, then refuses a user already in the set,
 * refuses when nothing remains, or claims (SADD + DECR). NO_GATE when the coupon has no gate (never
 * built, flushed, or not issuable). RATE_LIMITED when the request is past the user's issue rate
 * (counted once per request, before the gate).
 */
export async function claimCouponSlot(
  ctx: AppContext,
  couponId: string,
  userId: string,
  now: Date,
  options: { countRequest?: boolean } = {},
): Promise<ClaimVerdict> {
  if (options.countRequest !== false && !(await withinIssueRate(ctx, userId))) return 'RATE_LIMITED';
  const keys = couponGateKeys(ctx, couponId);
  const verdict = await claimScript(
    ctx.redis,
    [keys.users, keys.remaining, keys.window, keys.claims],
    [userId, now.getTime(), CLAIM_MEMORY_MS / 1000],
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
  await giveBackScript(ctx.redis, [keys.users, keys.remaining, keys.claims], [userId, reason]);
}

// KEYS: the gate's users, remaining, window, epoch.
const dropScript = luaScript(`
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
return redis.call('INCR', KEYS[4])
`);

/**
 * A coupon that may not be issued now (suspended, cancelled, expired) has no gate. Called after the
 * status change commits; the epoch it counts up turns away a rebuild that read PostgreSQL earlier.
 */
export async function dropCouponGate(ctx: AppContext, couponId: string): Promise<void> {
  const keys = couponGateKeys(ctx, couponId);
  await dropScript(ctx.redis, [keys.users, keys.remaining, keys.window, keys.epoch], []);
}
