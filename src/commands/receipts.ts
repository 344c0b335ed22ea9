import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../db/database';
import type { CommandStatus } from '../db/schema/command.entity';
import { preparedStatement, query, run, sql } from '../db/sql';
import type { DomainOutcome } from './outcome';

export interface Receipt {
  id: string;
  userId: string;
  type: string;
  status: CommandStatus;
  /** A refusal's status; null on a DONE receipt (its outcome decides). */
  httpStatus: number | null;
  requestHash: string | null;
  outcome: DomainOutcome | null;
  error: { error: string; message: string; messageKo?: string; details?: unknown[] } | null;
}

/** Same user, same kind of command, same Idempotency-Key → the same command (and BullMQ job) id. */
export function commandIdFor(userId: string, type: string, idempotencyKey: string): string {
  const digest = createHash('sha256')
    .update(`${userId}\n${type}\n${idempotencyKey}`)
    .digest('hex')
    .slice(0, 40);
  return `${type.toLowerCase()}-${digest}`;
}

/** Fingerprint of a request body; key order does not matter. */
export function requestHashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

type ReceiptRow = Row<
  'commands',
  | 'id'
  | 'user_id'
  | 'type'
  | 'status'
  | 'http_status'
  | 'request_hash'
  | 'resource_type'
  | 'resource_id'
  | 'result'
  | 'error'
>;

/** A command's receipt. Named: a keyed command and each poll of a receipt read it (one plan per connection). */
export async function findReceipt(em: EntityManager, id: string): Promise<Receipt | undefined> {
  const [row] = await query<ReceiptRow>(
    em,
    preparedStatement(sql`select id, user_id, type, status, http_status, request_hash, resource_type,
                                 resource_id, result, error
                          from commands where id = ${id}`),
  );
  return row
    ? {
        id: row.id,
        userId: row.user_id,
        type: row.type,
        status: row.status,
        httpStatus: row.http_status,
        requestHash: row.request_hash,
        outcome:
          row.resource_type && row.resource_id && row.result
            ? { kind: row.resource_type, id: row.resource_id, result: row.result }
            : null,
        error: row.error,
      }
    : undefined;
}

export interface ReceiptInput {
  commandId: string;
  userId: string;
  type: string;
  idempotencyKey: string | null;
  requestHash: string | null;
}

export type DoneReceipt = ReceiptInput & { outcome: DomainOutcome };

/** Written inside the commands' own transaction: commands and their receipts commit together. */
export function doneReceiptsStatement(receipts: DoneReceipt[], now: Date) {
  const r = receipts;
  return sql`insert into commands (id, user_id, type, idempotency_key, request_hash, status, http_status,
                                   resource_type, resource_id, result, error, created_at, completed_at)
             select id, user_id, type, idempotency_key, request_hash, 'DONE', null, resource_type, resource_id,
                    result, null, ${now}, ${now}
             from unnest(${r.map((x) => x.commandId)}::text[], ${r.map((x) => x.userId)}::uuid[],
                         ${r.map((x) => x.type)}::text[], ${r.map((x) => x.idempotencyKey)}::text[],
                         ${r.map((x) => x.requestHash)}::text[], ${r.map((x) => x.outcome.kind)}::text[],
                         ${r.map((x) => x.outcome.id)}::uuid[], ${r.map((x) => x.outcome.result)}::text[])
               as t(id, user_id, type, idempotency_key, request_hash, resource_type, resource_id, result)`;
}

export async function insertDoneReceipt(em: EntityManager, r: DoneReceipt, now: Date) {
  await run(em, doneReceiptsStatement([r], now));
}

/** A refused command's receipt, written after its transaction rolled back. The first answer stays. */
export async function insertFailedReceipt(
  em: EntityManager,
  r: ReceiptInput & { httpStatus: number; error: Receipt['error'] },
  now: Date,
) {
  await run(
    em,
    sql`insert into commands (id, user_id, type, idempotency_key, request_hash, status, http_status, error, created_at,
                              completed_at)
        values (${r.commandId}, ${r.userId}, ${r.type}, ${r.idempotencyKey}, ${r.requestHash}, 'FAILED',
                ${r.httpStatus}, ${JSON.stringify(r.error)}::jsonb, ${now}, ${now})
        on conflict (id) do nothing`,
  );
}
