import { errors, jwtVerify, SignJWT } from 'jose';
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
}

/** Verified tokens remembered per process (verification costs ~150 µs through WebCrypto). */
const VERIFIED_CACHE_SIZE = 10_000;

export function jwtTokens(secret: string, ttlSeconds: number): TokenService {
  const key = new TextEncoder().encode(secret);
  // token → who it speaks for and until when; the expiry is checked again on every hit. Insertion
  // order makes the Map an LRU: a hit is moved to the end, the oldest entry goes first.
  const verified = new Map<string, { user: TokenClaims; expiresAt: number }>();
  const remember = (token: string, user: TokenClaims, expiresAt: number) => {
    verified.delete(token);
    verified.set(token, { user, expiresAt });
    if (verified.size > VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
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
      try {
        const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: ['HS256'] });
        const role = payload.role as Role;
        const tokenVersion = payload.tv;
        if (!payload.sub || !UUID.test(payload.sub) || !ROLES.includes(role) || !payload.exp)
          return undefined;
        if (typeof tokenVersion !== 'number' || !Number.isSafeInteger(tokenVersion)) return undefined;
        const user = { id: payload.sub, role, tokenVersion };
        remember(token, user, payload.exp * 1000);
        return user;
      } catch (error) {
        if (error instanceof errors.JOSEError) return undefined;
        throw error;
      }
    },
  };
}
