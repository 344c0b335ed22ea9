import { defineEntity, p } from '@mikro-orm/postgresql';

/**
 * A command answered 202 and not yet carried out: what was put in its mailbox, so the receipt
 * sweeper can put it there again if Redis lost the job, or end it FAILED. Deleted once the command
 * has its receipt. No foreign key to the user: a command of a user deleted meanwhile must still end.
 */
export const QueuedCommandSchema = defineEntity({
  name: 'QueuedCommand',
  tableName: 'queued_commands',
  properties: {
    id: p.string().length(80).primary(),
    userId: p.uuid().fieldName('user_id'),
    queue: p.string().length(40),
    type: p.string().length(40),
    data: p.json<Record<string, unknown>>(),
    requeues: p.integer().default(0),
    acceptedAt: p.datetime().fieldName('accepted_at'),
  },
  indexes: [{ name: 'queued_commands_accepted_at_index', properties: ['acceptedAt'] }],
});
export class QueuedCommand extends QueuedCommandSchema.class {}
QueuedCommandSchema.setClass(QueuedCommand);
