import { errors, jwtVerify, SignJWT } from 'jose';
import { ROLES, type Role } from '../../domain/user.entity';
import type { AuthUser } from '../../http/app-env';

const ISSUER = 'shop-backend';

export interface TokenService {
  sign(user: AuthUser): Promise<string>;
  /** The user a token speaks for, or undefined when it is invalid, tampered with or expired. */
  verify(token: string): Promise<AuthUser | undefined>;
}

export function jwtTokens(secret: string, ttlSeconds: number): TokenService {
  const key = new TextEncoder().encode(secret);
  return {
    sign: (user) =>
      new SignJWT({ role: user.role })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key),
    verify: async (token) => {
      try {
        const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: ['HS256'] });
        const role = payload.role as Role;
        if (!payload.sub || !ROLES.includes(role)) return undefined;
        return { id: payload.sub, role };
      } catch (error) {
        if (error instanceof errors.JOSEError) return undefined;
        throw error;
      }
    },
  };
}
