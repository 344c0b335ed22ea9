import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity';

export const COMMAND_STATUSES = ['QUEUED', 'DONE', 'FAILED'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/**
 * The durable receipt of a command sent through a mailbox: written by the worker in the transaction
 * that carried the command out (or right after a refusal). It answers `GET /commands/{id}`, makes a
 * redelivered job a no-op, and stores the first answer for an Idempotency-Key replay.
 */
export const CommandSchema = defineEntity({
  name: 'Command',
  tableName: 'commands',
  properties: {
    id: p.string().length(80).primary(),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id').index(),
    type: p.string().length(40),
    idempotencyKey: p.string().length(255).nullable(),
    requestHash: p.string().length(64).nullable(),
    status: p.enum(COMMAND_STATUSES),
    httpStatus: p.integer(),
    resource: p.string().length(200).nullable(),
    error: p.json<{ error: string; message: string; details?: unknown[] }>().nullable(),
    createdAt: p.datetime(),
    completedAt: p.datetime().nullable(),
  },
});
export class Command extends CommandSchema.class {}
CommandSchema.setClass(Command);
