import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity';

export const COMMAND_STATUSES = ['QUEUED', 'DONE', 'FAILED'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** What a command's outcome names: the aggregate it created or changed. */
export const RESOURCE_KINDS = ['order', 'payment', 'refund', 'inventory'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** created: a new aggregate; updated: changed, done; pending: accepted, its work goes on (a capture, a refund). */
export const OUTCOME_RESULTS = ['created', 'updated', 'pending'] as const;
export type OutcomeResult = (typeof OUTCOME_RESULTS)[number];

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
    /** A refusal's status (its error code's); a DONE receipt's status is the HTTP layer's business. */
    httpStatus: p.integer().nullable(),
    resourceType: p.enum(RESOURCE_KINDS).nullable(),
    resourceId: p.uuid().nullable(),
    result: p.enum(OUTCOME_RESULTS).nullable(),
    error: p.json<{ error: string; message: string; details?: unknown[] }>().nullable(),
    createdAt: p.datetime(),
    completedAt: p.datetime().nullable(),
  },
});
export class Command extends CommandSchema.class {}
CommandSchema.setClass(Command);
