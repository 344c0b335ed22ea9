import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { dropOldest } from '../bounded-map';
import { ROLES, type Role } from '../db/schema/user.entity';

const ISSUER = 'shop-backend';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a token says: who, with which role, signed at which of the user's token versions. */
export interface TokenClaims {
  id: string;
  role: Role;
  tokenVersion: number;
}

export interface TokenService {
  sign(claims: TokenClaims): Promise<string>;
  /**
   * The claims of a well-formed token, or undefined when it is invalid, tampered with or expired.
   * Whether the user still exists and the version is current is checked by TokenChecker.
   */
  verify(token: string): Promise<TokenClaims | undefined>;
  /**
   * Why a token verify refused would not do, for the 401's message (never on the hot path): `expired`
   * when this shop signed it and only its expiry has passed, `genuine` when it is well formed and
   * current (a refusal must then come from the user's standing), else `invalid`.
   */
  diagnose(token: string): 'expired' | 'genuine' | 'invalid';
}

/** Verified tokens remembered per process (a stampede of new buyers still verifies each once). */
const VERIFIED_CACHE_SIZE = 10_000;

export function jwtTokens(secret: string, ttlSeconds: number): TokenService {
  const key = new TextEncoder().encode(secret);
  // Imported once: handing createHmac raw bytes makes it import a key on every call.
  const hmacKey = createSecretKey(key);
  // token → who it speaks for and until when; the expiry is checked again on every hit. Insertion
  // order makes the Map an LRU: a hit is moved to the end, the oldest entry goes first.
  const verified = new Map<string, { user: TokenClaims; expiresAt: number }>();
  const remember = (token: string, user: TokenClaims, expiresAt: number) => {
    verified.delete(token);
    verified.set(token, { user, expiresAt });
    dropOldest(verified, VERIFIED_CACHE_SIZE);
  };
  return {
    sign: (user) =>
      new SignJWT({ role: user.role, tv: user.tokenVersion })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key),
    verify: async (token) => {
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt > Date.now()) {
          remember(token, known.user, known.expiresAt);
          return known.user;
        }
        verified.delete(token);
      }
      const payload = verifyHs256(token, hmacKey, Math.floor(Date.now() / 1000));
      const user = payload && claimsOf(payload);
      if (!user) return undefined;
      remember(token, user, (payload.exp as number) * 1000);
      return user;
    },
    diagnose: (token) => {
      // Verified as at the epoch: every check but the expiry's.
      const payload = verifyHs256(token, hmacKey, 0);
      if (!payload || !claimsOf(payload)) return 'invalid';
      return (payload.exp as number) <= Date.now() / 1000 ? 'expired' : 'genuine';
    },
  };
}

/** Who a verified payload speaks for, or undefined when its subject, role or version is malformed. */
function claimsOf(payload: Claims): TokenClaims | undefined {
  const role = payload.role as Role;
  const tokenVersion = payload.tv;
  if (typeof payload.sub !== 'string' || !UUID.test(payload.sub) || !ROLES.includes(role)) return undefined;
  if (typeof tokenVersion !== 'number' || !Number.isSafeInteger(tokenVersion)) return undefined;
  return { id: payload.sub, role, tokenVersion };
}

type Claims = Record<string, unknown>;

function decodeJson(segment: string): Claims | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Claims)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The claims of a compact HS256 JWS signed with `key` by this shop, or undefined. Synchronous HMAC
 * through node:crypto: jose verifies through WebCrypto, whose thread-pool round trip cost ~120 µs per
 * token, as much as the whole rest of a coupon request. The checks are jose's for our tokens: the
 * header names HS256 and nothing critical, the signature matches (constant-time, canonical base64url),
 * the issuer is ours, `exp` is in the future, `nbf` (if any) has passed, `iat` (if any) is a number.
 */
export function verifyHs256(
  token: string,
  key: KeyObject | Uint8Array,
  nowSeconds: number,
): Claims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [head, body, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  if (given.toString('base64url') !== signature) return undefined;
  const header = decodeJson(head);
  if (header?.alg !== 'HS256' || 'crit' in header || header.b64 === false) return undefined;
  const payload = decodeJson(body);
  if (!payload || payload.iss !== ISSUER) return undefined;
  if (typeof payload.exp !== 'number' || payload.exp <= nowSeconds) return undefined;
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > nowSeconds))
    return undefined;
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return undefined;
  return payload;
}
