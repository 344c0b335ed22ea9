import type { MiddlewareHandler } from 'hono';
import type { TokenChecker } from '../../auth/token-checker';
import type { Role } from '../../db/schema/user.entity';
import { DomainError } from '../../errors/domain-error';
import type { AppEnv, AuthUser } from '../app-env';

const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer …` header, or undefined when the header is malformed. */
export const bearerToken = (header: string): string | undefined => BEARER.exec(header)?.[1];

/**
 * Reads `Authorization: Bearer …` (or `?access_token=` for EventSource, which cannot send headers).
 * A missing token leaves the request anonymous; a bad, expired or revoked one is refused outright.
 */
export function authenticate(tokens: TokenChecker): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const token = header ? bearerToken(header) : c.req.query('access_token');
    if (header !== undefined && !token)
      throw new DomainError('UNAUTHORIZED', {
        en: 'Malformed Authorization header',
        ko: 'Authorization 헤더 형식이 올바르지 않습니다',
      });
    if (token) {
      const user = await tokens.authenticate(token);
      if (!user)
        throw new DomainError('UNAUTHORIZED', {
          en: 'Invalid or expired token',
          ko: '유효하지 않거나 만료된 토큰입니다',
        });
      c.set('user', user);
    }
    await next();
  };
}

export const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get('user')) throw new DomainError('UNAUTHORIZED');
  await next();
};

export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const user = c.get('user');
    if (!user) throw new DomainError('UNAUTHORIZED');
    if (!roles.includes(user.role)) {
      throw new DomainError('FORBIDDEN', {
        en: `This needs the role ${roles.join(' or ')}`,
        ko: `${roles.join(' 또는 ')} 역할이 필요합니다`,
      });
    }
    await next();
  };
}

/** The authenticated user of a route guarded by requireUser/requireRole. */
export function currentUser(c: { get(key: 'user'): AuthUser | undefined }): AuthUser {
  const user = c.get('user');
  if (!user) throw new DomainError('UNAUTHORIZED');
  return user;
}
