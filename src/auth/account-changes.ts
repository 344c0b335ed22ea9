import type { AppContext } from '../context';
import { db } from '../db/database';
import { type Role, User } from '../db/schema/user.entity';
import { run, sql } from '../db/sql';
import { DomainError } from '../errors/domain-error';
import { toUserView, type UserView, verifyCredentials } from './auth.service';

/**
 * Changes that revoke every token issued to a user so far: each bumps users.token_version, which
 * tokens carry (TokenChecker refuses an older one within TOKEN_CHECK_CACHE_MS, at once in this process).
 */

/** POST /auth/logout: every token of the user stops working. */
export async function logout(ctx: AppContext, userId: string): Promise<void> {
  await run(
    ctx.orm.em.fork(),
    sql`update users set token_version = token_version + 1, updated_at = now() where id = ${userId}`,
  );
  ctx.tokenChecker.forget(userId);
}

/**
 * An ADMIN changes another user's role. Nobody changes their own role, and the last ADMIN cannot be
 * demoted: the ADMIN rows are locked first, so two admins demoting each other at once cannot both win
 * (the second finds the first gone: 409).
 */
export async function changeRole(
  ctx: AppContext,
  actorId: string,
  id: string,
  role: Role,
): Promise<UserView> {
  if (actorId === id)
    throw new DomainError('FORBIDDEN', {
      en: 'Nobody may change their own role',
      ko: '자신의 역할은 변경할 수 없습니다',
    });
  await ctx.orm.em.fork().transactional(async (tx) => {
    const admins = await db(tx)
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'ADMIN')
      .orderBy('id')
      .forUpdate()
      .execute();
    const target = await db(tx)
      .selectFrom('users')
      .select('role')
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!target) throw new DomainError('NOT_FOUND');
    if (target.role === role) return;
    if (target.role === 'ADMIN' && !admins.some((admin) => admin.id !== id)) {
      throw new DomainError('LAST_ADMIN');
    }
    // The actor's token was checked before the locks were taken: it may have been demoted since.
    if (!admins.some((admin) => admin.id === actorId)) throw new DomainError('FORBIDDEN');
    await run(
      tx,
      sql`update users set role = ${role}, token_version = token_version + 1, version = version + 1,
            updated_at = now()
          where id = ${id}`,
    );
  });
  ctx.tokenChecker.forget(id);
  const user = await ctx.orm.em.fork().findOneOrFail(User, { id });
  return toUserView(user);
}

/**
 * Changes a user's password after checking the current one (through the login lockout); every older
 * token stops working, and a fresh one is returned.
 */
export async function changePassword(
  ctx: AppContext,
  userId: string,
  change: { currentPassword: string; newPassword: string },
  clientAddress: string,
): Promise<{ token: string; user: UserView }> {
  const em = ctx.orm.em.fork();
  const user = await em.findOne(User, { id: userId });
  if (!user) throw new DomainError('UNAUTHORIZED');
  await verifyCredentials(ctx, user.email, change.currentPassword, clientAddress);
  const passwordHash = await ctx.passwords.hash(change.newPassword);
  const row = await db(em)
    .updateTable('users')
    .set((eb) => ({
      password_hash: passwordHash,
      token_version: eb('token_version', '+', 1),
      version: eb('version', '+', 1),
      updated_at: sql<string>`now()`,
    }))
    .where('id', '=', userId)
    .returning('token_version')
    .executeTakeFirst();
  if (!row) throw new DomainError('UNAUTHORIZED');
  ctx.tokenChecker.forget(userId);
  const token = await ctx.tokens.sign({ id: userId, role: user.role, tokenVersion: row.token_version });
  return { token, user: toUserView(user) };
}
