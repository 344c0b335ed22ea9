import type { AppContext } from '../context';
import type { Row } from '../db/database';
import type { CouponStatus } from '../db/schema/coupon.entity';
import { query, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { hashTag, waitUntilReady } from '../messaging/redis';
import { CLAIM_MEMORY_MS, couponGateKeys, dropCouponGate, GATED_STATUSES } from './coupon-gate';
import { luaScript } from './lua-script';

/**
 * Rebuilding the gate from PostgreSQL: at start-up, on POST /admin/coupons/{id}/resync, and when a
 * request finds the gate missing (a Redis flush or restart).
 *
 * The coupon's row and its users are read in one REPEATABLE READ snapshot; the users go into a
 * temporary set, then one Lua step swaps in set, counter and window together, so no claim ever sees
 * half a gate. A claim made in Redis before the swap whose row commits after the snapshot (or has
 * not committed yet) is not in the snapshot: the swap adds the claims the gate remembers
 * (`claims`, CLAIM_MEMORY_MS) to the users and takes them from what remains, and a claim PostgreSQL
 * then refuses is handed back to the new gate as to the old. What remains open is a Redis that lost
 * the remembered claims too (a flush or restart while winners commit): a user may be admitted once
 * more (the unique constraint refuses: 409 COUPON_ALREADY_ISSUED, and the user is put back into the
 * set), and one slot too many may be admitted (the conditional increment refuses: 409
 * COUPON_SOLD_OUT, and the counter is set to 0). Either way PostgreSQL never issues one too many or
 * two to a user.
 *
 * A status change can also land between the snapshot and the swap: a suspension commits and drops
 * the gate, and a rebuild that read the coupon ACTIVE would put it back. The rebuild reads the
 * coupon's epoch before its snapshot and the swap happens only while the epoch is unchanged (every
 * drop counts it up, after its commit); otherwise PostgreSQL is read again.
 */

export interface GateState {
  couponId: string;
  status: CouponStatus;
  issuedCount: number;
  remaining: number;
}

const REBUILD_CHUNK = 10_000;
const REBUILD_TEMP_TTL_S = 3600;

const STATUS_CHANGED = -1;

// KEYS: users, remaining, window, the temporary users, epoch, claims. ARGV: remaining by the snapshot,
// only if missing (1), window, the epoch read before the snapshot ('' for none), now (ms), claim
// memory (ms). The remembered claims the snapshot lacks are added to the users and taken from what
// remains; forgotten ones are pruned.
const installScript = luaScript(`
if (redis.call('GET', KEYS[5]) or '') ~= ARGV[4] then
  redis.call('DEL', KEYS[4])
  return ${STATUS_CHANGED}
end
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[4])
  return 0
end
local remaining = tonumber(ARGV[1])
local claims = redis.call('HGETALL', KEYS[6])
for i = 1, #claims, 2 do
  if tonumber(ARGV[5]) - tonumber(claims[i + 1]) > tonumber(ARGV[6]) then
    redis.call('HDEL', KEYS[6], claims[i])
  elseif redis.call('SADD', KEYS[4], claims[i]) == 1 then
    remaining = remaining - 1
  end
end
if remaining < 0 then remaining = 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('RENAME', KEYS[4], KEYS[1])
  redis.call('PERSIST', KEYS[1])
else
  redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[2], remaining)
redis.call('SET', KEYS[3], ARGV[3])
return 1
`);

/**
 * Rebuilds a coupon's gate from PostgreSQL, replacing what Redis had; a coupon that may not be issued
 * loses its gate instead. With `onlyIfMissing` an existing gate is kept (a request found it missing,
 * and another may have rebuilt it meanwhile). Null for an unknown coupon.
 */
export async function rebuildCouponGate(
  ctx: AppContext,
  couponId: string,
  options: { onlyIfMissing?: boolean } = {},
): Promise<GateState | null> {
  for (let attempt = 1; attempt <= MAX_REBUILD_ATTEMPTS; attempt++) {
    const rebuilt = await rebuildOnce(ctx, couponId, options);
    if (rebuilt !== STATUS_CHANGED) return rebuilt;
  }
  // The status changes faster than a rebuild reads: the gate stays missing, the next request retries.
  throw new DomainError('SERVICE_UNAVAILABLE');
}

const MAX_REBUILD_ATTEMPTS = 5;

async function rebuildOnce(
  ctx: AppContext,
  couponId: string,
  options: { onlyIfMissing?: boolean },
): Promise<GateState | null | typeof STATUS_CHANGED> {
  const keys = couponGateKeys(ctx, couponId);
  const epoch = (await ctx.redis.get(keys.epoch)) ?? '';
  const temp = ctx.key(hashTag('coupon', couponId), 'users', 'rebuild', crypto.randomUUID());
  const read = await ctx.orm.em.fork().transactional(
    async (tx) => {
      const [coupon] = await query<
        Row<'coupons', 'status' | 'total_quantity' | 'issued_count' | 'valid_from' | 'valid_until'>
      >(
        tx,
        sql`select status, total_quantity, issued_count, valid_from, valid_until from coupons where id = ${couponId}`,
      );
      if (!coupon || !GATED_STATUSES.includes(coupon.status)) return coupon && { coupon, gated: false };
      for (let after = '00000000-0000-0000-0000-000000000000'; ; ) {
        const rows = await query<Row<'user_coupons', 'user_id'>>(
          tx,
          sql`select user_id from user_coupons where coupon_id = ${couponId} and user_id > ${after}
              order by user_id limit ${REBUILD_CHUNK}`,
        );
        if (rows.length === 0) break;
        await ctx.redis
          .multi()
          .sadd(temp, ...rows.map((r) => r.user_id))
          .expire(temp, REBUILD_TEMP_TTL_S)
          .exec();
        if (rows.length < REBUILD_CHUNK) break;
        after = rows[rows.length - 1]!.user_id;
      }
      return { coupon, gated: true };
    },
    { isolationLevel: 'repeatable read', readOnly: true },
  );
  if (!read) return null;
  const { coupon } = read;
  const state: GateState = {
    couponId,
    status: coupon.status,
    issuedCount: coupon.issued_count,
    remaining: Math.max(0, coupon.total_quantity - coupon.issued_count),
  };
  if (!read.gated) {
    if (!options.onlyIfMissing) await dropCouponGate(ctx, couponId);
    return state;
  }
  const window = `${new Date(coupon.valid_from).getTime()} ${new Date(coupon.valid_until).getTime()}`;
  const installed = await installScript(
    ctx.redis,
    [keys.users, keys.remaining, keys.window, temp, keys.epoch, keys.claims],
    [state.remaining, options.onlyIfMissing ? '1' : '0', window, epoch, Date.now(), CLAIM_MEMORY_MS],
  );
  return installed === STATUS_CHANGED ? STATUS_CHANGED : state;
}

const rebuildsInFlight = new Map<string, Promise<GateState | null>>();

/**
 * Rebuilds a missing gate, once per process however many requests found it missing together, and
 * says what PostgreSQL has (null: no such coupon).
 */
export function ensureCouponGate(ctx: AppContext, couponId: string): Promise<GateState | null> {
  const key = couponGateKeys(ctx, couponId).remaining;
  let rebuilding = rebuildsInFlight.get(key);
  if (!rebuilding) {
    rebuilding = rebuildCouponGate(ctx, couponId, { onlyIfMissing: true }).finally(() =>
      rebuildsInFlight.delete(key),
    );
    rebuildsInFlight.set(key, rebuilding);
  }
  return rebuilding;
}

/**
 * At start-up: every coupon that may still be issued gets its gate rebuilt from PostgreSQL (after
 * waiting for the fail-fast Redis connection to be ready). Throws if Redis stays unreachable; a gate
 * not rebuilt here is rebuilt by the first issue request that finds it missing.
 */
export async function rebuildAllCouponGates(ctx: AppContext): Promise<number> {
  await waitUntilReady(ctx.redis);
  const rows = await query<Row<'coupons', 'id'>>(
    ctx.orm.em.fork(),
    // SUSPENDED ones too: a gate a failed status change left behind is dropped.
    sql`select id from coupons where status in ('CREATED', 'ACTIVE', 'EXHAUSTED', 'SUSPENDED') order by id`,
  );
  for (const { id } of rows) await rebuildCouponGate(ctx, id);
  if (rows.length > 0) ctx.log.info({ coupons: rows.length }, 'rebuilt the coupon gates from PostgreSQL');
  return rows.length;
}
