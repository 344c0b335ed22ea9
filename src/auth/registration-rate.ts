import type { AppContext } from '../context';
import { luaScript } from '../coupons/lua-script';
import { rateLimited } from '../errors/domain-error';
import { hashTag } from '../messaging/redis';
import { rateLimitSubject } from './rate-limit-subject';

/**
 * Counts a registration against the client address's window (it starts with the first attempt; the
 * TTL is set again should it ever be missing). Past the limit the attempt gives its count back and the
 * script returns the seconds until the window ends; 0 when admitted.
 * KEYS: the address's counter. ARGV: the limit, the window in seconds.
 */
const TAKE_REGISTRATION = luaScript(`
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count <= tonumber(ARGV[1]) then return 0 end
redis.call('DECR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 1 then ttl = 1 end
return ttl
`);

/**
 * Admits a registration from this client address or throws RATE_LIMITED (429 with Retry-After):
 * REGISTER_MAX_PER_ADDRESS attempts that passed validation per REGISTER_WINDOW_S, counted in Redis so
 * every API process shares the count (each attempt costs an argon2 hash, and fake accounts could
 * drain per-user first-come coupons). Behind a reverse proxy the address is the client's only with
 * TRUST_PROXY_HOPS set.
 */
export async function admitRegistration(ctx: AppContext, address: string): Promise<void> {
  const { registerMaxPerAddress, registerWindowS } = ctx.config;
  const key = ctx.key(hashTag('registrations', rateLimitSubject(address)));
  const wait = Number(await TAKE_REGISTRATION(ctx.redis, [key], [registerMaxPerAddress, registerWindowS]));
  if (wait > 0) {
    throw rateLimited(
      {
        en: 'Too many registrations from this address; try again later',
        ko: '이 주소에서 가입 요청이 너무 많습니다. 잠시 후 다시 시도해 주세요',
      },
      wait,
    );
  }
}
