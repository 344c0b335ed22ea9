import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { ConfigError } from '../config';
import type { AppContext } from '../context';
import { type Role, User } from '../db/schema/user.entity';
import { DomainError } from '../errors/domain-error';
import { takeLoginSlot } from './login-attempts';
import { admitRegistration } from './registration-rate';

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  businessNumber?: string;
  intro?: string;
  createdAt: string;
}

export function toUserView(user: User): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    ...(user.businessNumber ? { businessNumber: user.businessNumber } : {}),
    ...(user.intro ? { intro: user.intro } : {}),
    createdAt: user.createdAt.toISOString(),
  };
}

export interface Registration {
  email: string;
  password: string;
  name: string;
  role: 'BUYER' | 'SELLER';
  businessNumber?: string | undefined;
  intro?: string | undefined;
}

export async function registerUser(ctx: AppContext, input: Registration, address: string): Promise<UserView> {
  // Counted once the body is valid, before the password is hashed (registration-rate.ts).
  await admitRegistration(ctx, address);
  const em = ctx.orm.em.fork();
  const user = em.create(User, {
    email: input.email.toLowerCase(),
    name: input.name,
    passwordHash: await ctx.passwords.hash(input.password),
    role: input.role,
    businessNumber: input.role === 'SELLER' ? normalizeBusinessNumber(input.businessNumber!) : null,
    intro: input.intro ?? null,
  });
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw new DomainError('DUPLICATE_EMAIL');
    throw error;
  }
  return toUserView(user);
}

/** 1234567890 → 123-45-67890, the usual form of a Korean business registration number. */
export function normalizeBusinessNumber(raw: string): string {
  const digits = raw.replace(/-/g, '');
  return `${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`;
}

// A real hash of a random password, verified for unknown emails so they take as long as known ones.
let decoyHash: Promise<string> | undefined;

/**
 * The user with this email and password, or UNAUTHORIZED. The attempt takes a slot of the account's
 * and the client address's lockout (takeLoginSlot) before the password is looked at, so parallel
 * guesses cannot outrun the counter; RATE_LIMITED once either is used up.
 */
export async function verifyCredentials(
  ctx: AppContext,
  email: string,
  password: string,
  clientAddress: string,
): Promise<User> {
  const normalized = email.toLowerCase();
  const slot = await takeLoginSlot(ctx, normalized, clientAddress);
  const user = await ctx.orm.em.fork().findOne(User, { email: normalized });
  decoyHash ??= ctx.passwords.hash(crypto.randomUUID());
  const valid = await ctx.passwords.verify(user?.passwordHash ?? (await decoyHash), password);
  if (!user || !valid)
    throw new DomainError('UNAUTHORIZED', {
      en: 'Wrong email or password',
      ko: '이메일 또는 비밀번호가 올바르지 않습니다',
    });
  await slot.release();
  return user;
}

/** Exchanges email and password for a token signed at the user's current token version. */
export async function login(ctx: AppContext, email: string, password: string, clientAddress: string) {
  const user = await verifyCredentials(ctx, email, password, clientAddress);
  const token = await ctx.tokens.sign({ id: user.id, role: user.role, tokenVersion: user.tokenVersion });
  return { token, user: toUserView(user) };
}

export async function getUser(ctx: AppContext, id: string): Promise<UserView> {
  const user = await ctx.orm.em.fork().findOne(User, { id });
  if (!user) throw new DomainError('NOT_FOUND');
  return toUserView(user);
}

/**
 * Creates the administrator named by ADMIN_EMAIL at start-up if it does not exist yet; an ADMIN
 * already at that address is left as it is (its password may have been changed since).
 *
 * An existing account of another role is never promoted: anyone can register an address (there is no
 * email verification), so promoting it would hand the administrator to whoever registered the future
 * ADMIN_EMAIL first, with their password. Start-up stops instead, with a ConfigError naming
 * ADMIN_EMAIL, in every environment.
 */
export async function ensureAdmin(ctx: AppContext): Promise<void> {
  const email = ctx.config.adminEmail;
  const em = ctx.orm.em.fork();
  const existing = await em.findOne(User, { email });
  if (existing) return assertAdmin(existing);
  em.create(User, {
    email,
    name: 'Administrator',
    passwordHash: await ctx.passwords.hash(ctx.config.adminPassword),
    role: 'ADMIN',
    adminCode: 'ROOT',
  });
  try {
    await em.flush();
  } catch (error) {
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    // Someone took the address first: another process starting (an ADMIN) or a registration (not).
    const winner = await ctx.orm.em.fork().findOne(User, { email });
    if (!winner) throw error;
    return assertAdmin(winner);
  }
  ctx.log.info({ email }, 'created the administrator account');
}

function assertAdmin(user: User): void {
  if (user.role === 'ADMIN') return;
  throw new ConfigError([
    `ADMIN_EMAIL: ${user.email} already belongs to a ${user.role} account; start-up never promotes an ` +
      'existing account to ADMIN (anyone may have registered the address, with a password of their own). ' +
      'Set ADMIN_EMAIL to an address no account uses.',
  ]);
}
