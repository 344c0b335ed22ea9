import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { verifyCredentials } from '../../auth/auth.service';
import { dropOldest } from '../../bounded-map';
import type { AppContext } from '../../context';
import { DomainError, isDomainError } from '../../errors/domain-error';
import { isStorableText } from '../../validation/text';
import type { AppEnv } from '../app-env';
import { clientAddress } from '../client-address';
import { errorBody, handleError } from '../error-handler';

export const ADMIN_REALM = 'shop admin';
/** A verified Basic login is trusted this long: a page loads dozens of assets, argon2 costs ~50 ms each. */
const BASIC_CACHE_MS = 60_000;
const BASIC_CACHE_MAX = 256;

/**
 * Guards the operator pages (Bull Board, the machine visualizer): an ADMIN bearer token, or HTTP Basic
 * with an ADMIN's email and password — checked through the login service, so its per-account lockout
 * applies. Anything else is 401 with a Basic challenge, which makes browsers ask for credentials.
 */
export function adminGate(ctx: AppContext): MiddlewareHandler<AppEnv> {
  const verified = new Map<string, { userId: string; tokenVersion: number; until: number }>();

  /** A cached Basic login counts only while the admin is still an ADMIN at the same token version. */
  const stillValid = async (entry: { userId: string; tokenVersion: number }) => {
    const standing = await ctx.tokenChecker.standing(entry.userId);
    return standing?.role === 'ADMIN' && standing.tokenVersion === entry.tokenVersion;
  };

  const basicAdmin = async (credentials: string, address: string): Promise<string | undefined> => {
    const key = createHash('sha256').update(credentials).digest('hex');
    const cached = verified.get(key);
    if (cached && cached.until > Date.now() && (await stillValid(cached))) return cached.userId;
    verified.delete(key);
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1 || !isStorableText(decoded)) return undefined;
    const user = await verifyCredentials(
      ctx,
      decoded.slice(0, colon),
      decoded.slice(colon + 1),
      address,
    ).catch((error) => {
      if (isDomainError(error) && error.code === 'UNAUTHORIZED') return undefined;
      throw error;
    });
    if (user?.role !== 'ADMIN') return undefined;
    verified.set(key, {
      userId: user.id,
      tokenVersion: user.tokenVersion,
      until: Date.now() + BASIC_CACHE_MS,
    });
    dropOldest(verified, BASIC_CACHE_MAX);
    return user.id;
  };

  /**
   * The admin's id; undefined for no or wrong credentials and for anyone else's token or login (API.md:
   * "401 with WWW-Authenticate: Basic otherwise", so a browser offers to sign in as an admin).
   */
  const identify = async (header: string, address: string): Promise<string | undefined> => {
    const [scheme, value] = header.split(/\s+/, 2) as [string, string | undefined];
    if (!value) return undefined;
    if (/^bearer$/i.test(scheme)) {
      const user = await ctx.tokenChecker.authenticate(value);
      return user?.role === 'ADMIN' ? user.id : undefined;
    }
    return /^basic$/i.test(scheme) ? basicAdmin(value, address) : undefined;
  };

  return async (c, next) => {
    let adminId: string | undefined;
    try {
      adminId = await identify(
        c.req.header('authorization') ?? '',
        clientAddress(c, ctx.config.trustProxyHops),
      );
    } catch (error) {
      return handleError(error, c);
    }
    if (adminId) {
      c.set('user', { id: adminId, role: 'ADMIN' });
      return next();
    }
    const error = new DomainError('UNAUTHORIZED', {
      en: 'Sign in with an ADMIN account',
      ko: 'ADMIN 계정으로 로그인해 주세요',
    });
    return c.json(errorBody(error, c.get('lang') ?? 'en'), 401, {
      'WWW-Authenticate': `Basic realm="${ADMIN_REALM}", charset="UTF-8"`,
    });
  };
}
