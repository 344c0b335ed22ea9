import type { AppContext } from '../context';
import { luaScript } from '../coupons/lua-script';
import { rateLimited } from '../errors/domain-error';
import { hashTag } from '../messaging/redis';
import { rateLimitSubject } from './rate-limit-subject';

/**
 * Takes a login slot for the account and for the client address in one step, before any password is
 * verified: each counter is incremented (its window starts with the first attempt), and when either is
 * past its limit the attempt is refused and gives its slot back. Returns 0 when admitted, otherwise the
 * seconds until the fuller window ends.
 * KEYS: account counter, address counter. ARGV: account limit, address limit, window seconds.
 */
const TAKE_SLOT = luaScript(`
local limits = { tonumber(ARGV[1]), tonumber(ARGV[2]) }
local counts = {}
for i = 1, 2 do
  counts[i] = redis.call('INCR', KEYS[i])
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
local wait = 0
for i = 1, 2 do
  if counts[i] > limits[i] then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then
  for i = 1, 2 do redis.call('DECR', KEYS[i]) end
end
return wait
`);

/** Gives one slot back to each counter that still exists (an expired window is not recreated). */
const RELEASE_SLOT = luaScript(`
for i = 1, #KEYS do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`);

export interface LoginSlot {
  /** The password was right: give this attempt's slot back (and only this one's). */
  release(): Promise<void>;
}

/**
 * Admits a login attempt or throws RATE_LIMITED (429 with Retry-After). A failed attempt keeps its slot
 * until the window ends; a successful one releases only its own, so a success never reopens the window
 * for guesses already in flight. Counted per account (LOGIN_MAX_FAILURES) and per client address
 * (LOGIN_MAX_FAILURES_PER_ADDRESS) within LOGIN_WINDOW_S.
 */
export async function takeLoginSlot(ctx: AppContext, email: string, address: string): Promise<LoginSlot> {
  // Both counters in one hash slot: the script moves them together, on a cluster too.
  const keys = [
    ctx.key(hashTag('login-attempts'), 'account', email),
    ctx.key(hashTag('login-attempts'), 'address', rateLimitSubject(address)),
  ];
  const { loginMaxFailures, loginMaxFailuresPerAddress, loginWindowS } = ctx.config;
  const wait = Number(
    await TAKE_SLOT(ctx.redis, keys, [loginMaxFailures, loginMaxFailuresPerAddress, loginWindowS]),
  );
  if (wait > 0) {
    throw rateLimited(
      {
        en: 'Too many failed logins; try again later',
        ko: '로그인 실패가 너무 많습니다. 잠시 후 다시 시도해 주세요',
      },
      wait,
    );
  }
  return {
    release: async () => {
      await RELEASE_SLOT(ctx.redis, keys, []);
    },
  };
}
