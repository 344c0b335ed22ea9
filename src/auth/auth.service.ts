import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import type { AppContext } from '../context';
import { type Role, User } from '../db/schema/user.entity';
import { DomainError } from '../errors/domain-error';

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

export async function registerUser(ctx: AppContext, input: Registration): Promise<UserView> {
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

/** Verifies a password; 10 failures per account in the window lock it with 429 until the window ends. */
export async function login(ctx: AppContext, email: string, password: string) {
  const normalized = email.toLowerCase();
  const failuresKey = ctx.key('login-failures', normalized);
  const failures = Number((await ctx.redis.get(failuresKey)) ?? 0);
  if (failures >= ctx.config.loginMaxFailures) {
    throw new DomainError('RATE_LIMITED', 'Too many failed logins for this account; try again later');
  }
  const user = await ctx.orm.em.fork().findOne(User, { email: normalized });
  decoyHash ??= ctx.passwords.hash(crypto.randomUUID());
  const valid = await ctx.passwords.verify(user?.passwordHash ?? (await decoyHash), password);
  if (!user || !valid) {
    await ctx.redis.multi().incr(failuresKey).expire(failuresKey, ctx.config.loginWindowS, 'NX').exec();
    throw new DomainError('UNAUTHORIZED', 'Wrong email or password');
  }
  if (failures > 0) await ctx.redis.del(failuresKey);
  const token = await ctx.tokens.sign({ id: user.id, role: user.role });
  return { token, user: toUserView(user) };
}

export async function getUser(ctx: AppContext, id: string): Promise<UserView> {
  const user = await ctx.orm.em.fork().findOne(User, { id });
  if (!user) throw new DomainError('USER_NOT_FOUND');
  return toUserView(user);
}

export async function changeRole(ctx: AppContext, id: string, role: Role): Promise<UserView> {
  const em = ctx.orm.em.fork();
  const user = await em.findOne(User, { id });
  if (!user) throw new DomainError('USER_NOT_FOUND');
  user.role = role;
  await em.flush();
  return toUserView(user);
}

/** Creates the administrator named by ADMIN_EMAIL at start-up if it does not exist yet. */
export async function ensureAdmin(ctx: AppContext): Promise<void> {
  const em = ctx.orm.em.fork();
  const existing = await em.findOne(User, { email: ctx.config.adminEmail });
  if (existing) {
    if (existing.role !== 'ADMIN') {
      existing.role = 'ADMIN';
      await em.flush();
    }
    return;
  }
  em.create(User, {
    email: ctx.config.adminEmail,
    name: 'Administrator',
    passwordHash: await ctx.passwords.hash(ctx.config.adminPassword),
    role: 'ADMIN',
    adminCode: 'ROOT',
  });
  try {
    await em.flush();
  } catch (error) {
    // Another process created it first.
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
  }
  ctx.log.info({ email: ctx.config.adminEmail }, 'created the administrator account');
}
