import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../../src/config';
import type { AppContext } from '../../../src/context';
import { claimCouponSlot, couponGateKeys } from '../../../src/coupons/coupon-gate';
import { createRedis } from '../../../src/messaging/redis';

/** The Redis keys of a coupon's gate in a shop whose keys start with `prefix`. */
export function shopGateKeys(prefix: string, couponId: string) {
  return couponGateKeys(keyBuilder(prefix), couponId);
}

// claimCouponSlot and couponGateKeys read only these members of the context.
function keyBuilder(prefix: string, members: Partial<AppContext> = {}): AppContext {
  return { ...members, key: (...parts: (string | number)[]) => [prefix, ...parts].join(':') } as AppContext;
}

/**
 * The raw ceiling of first-come coupon issuance: the issuance's own claim step — `claimCouponSlot`,
 * i.e. the same Lua script by EVALSHA, with the same keys and arguments (rate-limit counter, window,
 * already-issued set, remaining counter) — called straight over ioredis from this process, with no
 * HTTP, auth, envelope or PostgreSQL around it. Each rush of `requestsPerRush` calls, each from a
 * distinct new user id, runs against a fresh gate: a copy of a gate the shop built itself for a coupon
 * with the same numbers that nobody issues from (`template`). Rushes follow one another for the
 * whole phase, so the figure is steady even when one rush lasts a fraction of a second.
 */
export class RawCouponClaims {
  private readonly redis;
  private readonly ctx: AppContext;
  private readonly gates = new Map<number, Promise<void>>();
  private readonly tag = randomUUID().slice(0, 8);
  private readonly prefix: string;
  private calls = 0;
  /** CLAIMED verdicts per rush (every complete rush must have exactly the coupon's quantity). */
  readonly claimedPerRush: number[] = [];

  constructor(
    env: Record<string, string>,
    private readonly template: string,
    private readonly requestsPerRush: number,
  ) {
    const config = loadConfig({ ...env, WORKERS: 'none', LOG_LEVEL: 'silent' });
    this.prefix = config.redisPrefix;
    // The same client settings as the shop's command connection.
    this.redis = createRedis(config.redisUrl, 'command', `${config.redisPrefix}:bench-raw-claims`);
    this.ctx = keyBuilder(config.redisPrefix, { config, redis: this.redis });
  }

  /** One claim by a new user in the current rush; resolves with the script's verdict. */
  claim = async (): Promise<string> => {
    const n = this.calls++;
    const rush = Math.floor(n / this.requestsPerRush);
    let gate = this.gates.get(rush);
    if (!gate) {
      gate = this.copyTemplate(this.couponId(rush));
      this.gates.set(rush, gate);
    }
    await gate;
    const verdict = await claimCouponSlot(this.ctx, this.couponId(rush), randomUUID(), new Date());
    if (verdict === 'CLAIMED') this.claimedPerRush[rush] = (this.claimedPerRush[rush] ?? 0) + 1;
    return verdict;
  };

  /** How many rushes ran to the end, and whether each of those claimed exactly `quantity`. */
  summary(quantity: number) {
    const complete = Math.floor(this.calls / this.requestsPerRush);
    const claimed = this.claimedPerRush.slice(0, complete).map((n) => n ?? 0);
    return { calls: this.calls, completeRushes: complete, exact: claimed.every((n) => n === quantity) };
  }

  /** Drops the copies and the rate-limit counters the calls left (tens of thousands of small keys). */
  async close(): Promise<void> {
    for (const pattern of [
      `${this.prefix}:{coupon:raw-${this.tag}-*`,
      `${this.prefix}:{coupon-issue-rate:*`,
    ]) {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
        if (keys.length > 0) await this.redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
    this.redis.disconnect();
  }

  private couponId(rush: number) {
    return `raw-${this.tag}-${rush}`;
  }

  private async copyTemplate(couponId: string) {
    const from = couponGateKeys(this.ctx, this.template);
    const to = couponGateKeys(this.ctx, couponId);
    const copied = await Promise.all(
      (['users', 'remaining', 'window'] as const).map((k) => this.redis.copy(from[k], to[k], 'REPLACE')),
    );
    if (!copied[1] || !copied[2]) throw new Error(`the template coupon ${this.template} has no gate to copy`);
  }
}
