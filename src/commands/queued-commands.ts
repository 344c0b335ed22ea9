import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferResult } from 'kysely';
import { db } from '../db/database';
import { run, sql } from '../db/sql';

const selectQueuedCommands = (em: EntityManager) =>
  db(em)
    .selectFrom('queued_commands as q')
    .select([
      'q.id',
      'q.user_id as userId',
      'q.queue',
      'q.type',
      'q.data',
      'q.requeues',
      'q.accepted_at as acceptedAt',
    ]);

/**
 * The key of a queued command's data naming the job that carries it when that is not the command's
 * own (a member of a PLACE_BATCH job). Job schemas strip it when the command is put back alone.
 */
export const MAILBOX_JOB_ID = 'mailboxJobId';

/** A command answered 202: enough to put its job in its mailbox again. */
export type QueuedCommandRow = InferResult<ReturnType<typeof selectQueuedCommands>>[number];

/**
 * Remembers a command the client was told is QUEUED (written only on the 202 path, so a command
 * answered in time costs nothing more). The receipt sweeper ends it if its job is lost or failed.
 */
export async function rememberQueuedCommand(
  em: EntityManager,
  command: { id: string; userId: string; queue: string; type: string; data: unknown },
  now: Date,
): Promise<void> {
  await run(
    em,
    sql`insert into queued_commands (id, user_id, queue, type, data, requeues, accepted_at)
        values (${command.id}, ${command.userId}, ${command.queue}, ${command.type},
                ${JSON.stringify(command.data)}::jsonb, 0, ${now})
        on conflict (id) do nothing`,
  );
}

export async function findQueuedCommand(
  em: EntityManager,
  id: string,
): Promise<QueuedCommandRow | undefined> {
  return selectQueuedCommands(em).where('q.id', '=', id).executeTakeFirst();
}

/** Queued commands accepted before `acceptedBefore`, oldest first, that have no receipt yet. */
export async function listUnfinishedCommands(
  em: EntityManager,
  acceptedBefore: Date,
  limit: number,
): Promise<QueuedCommandRow[]> {
  return selectQueuedCommands(em)
    .where('q.accepted_at', '<', acceptedBefore)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('commands as c').select(sql.lit(1).as('one')).whereRef('c.id', '=', 'q.id'))),
    )
    .orderBy('q.accepted_at')
    .limit(limit)
    .execute();
}

/** Forgets the queued commands that have their receipt (DONE or FAILED) now. */
export async function forgetFinishedCommands(em: EntityManager): Promise<number> {
  return run(em, sql`delete from queued_commands q using commands c where c.id = q.id`);
}

export async function forgetQueuedCommand(em: EntityManager, id: string): Promise<void> {
  await run(em, sql`delete from queued_commands where id = ${id}`);
}

/** Counts one more re-enqueue; false if another sweeper counted it first. */
export async function countRequeue(em: EntityManager, id: string, seen: number): Promise<boolean> {
  return (
    (await run(
      em,
      sql`update queued_commands set requeues = requeues + 1 where id = ${id} and requeues = ${seen}`,
    )) === 1
  );
}
