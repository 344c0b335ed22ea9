import type { Context, MiddlewareHandler } from 'hono';
import type { TokenChecker, TokenRefusal } from '../../auth/token-checker';
import type { Role } from '../../db/schema/user.entity';
import { DomainError, type LocalizedText } from '../../errors/domain-error';
import { annotateActiveSpan, isTracing } from '../../tracing/tracing';
import type { AppEnv, AuthUser } from '../app-env';

const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer …` header, or undefined when the header is malformed. */
export const bearerToken = (header: string): string | undefined => BEARER.exec(header)?.[1];

const QUERY_TOKEN = 'access_token';

/** A URL with the value of every `access_token` query parameter replaced (for traces and logs). */
export function redactQueryToken(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed?.searchParams.has(QUERY_TOKEN)) return url;
  parsed.searchParams.set(QUERY_TOKEN, 'REDACTED');
  return parsed.href;
}

const REFUSALS: Record<TokenRefusal, LocalizedText> = {
  expired: { en: 'The token has expired; sign in again', ko: '토큰이 만료되었습니다. 다시 로그인하세요' },
  revoked: {
    en: 'The token was revoked (signed out, or the password or role changed); sign in again',
    ko: '토큰이 취소되었습니다(로그아웃, 비밀번호 또는 역할 변경). 다시 로그인하세요',
  },
  invalid: { en: 'Invalid token', ko: '유효하지 않은 토큰입니다' },
};

/**
 * A refused bearer token's 401: what the client should do (an expired or revoked token means signing
 * in again; an invalid one is a bug), also in RFC 6750's WWW-Authenticate error attributes.
 */
function refusedToken(tokens: TokenChecker, token: string): DomainError {
  const refusal = tokens.refusal(token);
  return new DomainError('UNAUTHORIZED', REFUSALS[refusal], undefined, {
    'WWW-Authenticate': `Bearer error="invalid_token", error_description="${refusal}"`,
  });
}

/**
 * Reads `Authorization: Bearer …`. A missing token leaves the request anonymous; a bad, expired or
 * revoked one is refused outright. `?access_token=` is not read here: only the routes that cannot send
 * a header (EventSource) accept it, through acceptQueryToken; anywhere else it is ignored. A URL that
 * carries one has it redacted from the request's trace span (`url.full`); the access log prints the
 * path alone.
 */
export function authenticate(tokens: TokenChecker): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isTracing() && c.req.url.includes(QUERY_TOKEN))
      annotateActiveSpan({ 'url.full': redactQueryToken(c.req.url) });
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const token = bearerToken(header);
      if (!token)
        throw new DomainError('UNAUTHORIZED', {
          en: 'Malformed Authorization header',
          ko: 'Authorization 헤더 형식이 올바르지 않습니다',
        });
      const user = await tokens.authenticate(token);
      if (!user) throw refusedToken(tokens, token);
      c.set('user', user);
    }
    await next();
  };
}

/**
 * For a route an EventSource opens (it cannot send headers): a request without an Authorization
 * header may carry its token as `?access_token=`, checked as a bearer token would be. Put it before
 * requireUser in the route's own middleware; no other route reads a token from the URL.
 */
export function acceptQueryToken(tokens: TokenChecker): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.header('authorization') === undefined) {
      const token = c.req.query(QUERY_TOKEN);
      if (token) {
        const user = await tokens.authenticate(token);
        if (!user) throw refusedToken(tokens, token);
        c.set('user', user);
      }
    }
    await next();
  };
}

/**
 * The token the request authenticated with: the Authorization header's, else (on a route behind
 * acceptQueryToken) the `?access_token=` one. For a long-lived answer that re-checks it.
 */
export function requestToken(c: Context<AppEnv>): string | undefined {
  const header = c.req.header('authorization');
  return header !== undefined ? bearerToken(header) : c.req.query(QUERY_TOKEN);
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
