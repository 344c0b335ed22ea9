import type { RouteConfig, RouteConfigToTypedResponse } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { CommandResult } from '../commands/dispatch';
import type { DomainOutcome } from '../commands/outcome';
import type { ErrorDetail } from '../errors/domain-error';
import { ERROR_CODES, type ErrorCode, type Language } from '../errors/error-codes';
import type { AppEnv } from './app-env';
import { refusalBody } from './error-handler';

const RESOURCE_PATHS: Record<DomainOutcome['kind'], string> = {
  order: 'orders',
  payment: 'payments',
  refund: 'refunds',
  inventory: 'inventory',
};

/** The API path of what an outcome names (a receipt's `resource`). */
export const resourcePath = (outcome: Pick<DomainOutcome, 'kind' | 'id'>) =>
  `/api/v1/${RESOURCE_PATHS[outcome.kind]}/${outcome.id}`;

/**
 * The status of a carried-out command: 201 for what it created, 202 while its work goes on (a
 * capture, a refund), 200 otherwise. A replayed payment or refund request answers 200 with the
 * resource as it is now (API.md, Idempotency-Key).
 */
export function commandStatus(outcome: DomainOutcome, replayed: boolean): 200 | 201 | 202 {
  if (outcome.result === 'created') return 201;
  if (outcome.result === 'pending')
    return replayed && (outcome.kind === 'payment' || outcome.kind === 'refund') ? 200 : 202;
  return 200;
}

/**
 * What a mailbox command is answered with: the view of its outcome with the status the outcome
 * implies, or 202 with `Location` of the receipt to poll.
 */
function commandReply(result: CommandResult): { status: 200 | 201 | 202; data: unknown; location?: string } {
  if (result.state === 'queued') {
    return {
      status: 202,
      data: { id: result.commandId, type: result.type, status: 'QUEUED' },
      location: `/api/v1/commands/${result.commandId}`,
    };
  }
  return { status: commandStatus(result.outcome, result.replayed), data: result.view };
}

/**
 * Answers a mailbox command (commandReply). The status is decided at run time, so the response is
 * typed as the route declares it: each route documents the statuses its command can reach.
 */
export function commandResponse<R extends RouteConfig>(
  c: Context<AppEnv>,
  _route: R,
  result: CommandResult,
): RouteConfigToTypedResponse<R> {
  const reply = commandReply(result);
  if (reply.location) c.header('Location', reply.location);
  return c.json({ data: reply.data }, reply.status) as unknown as RouteConfigToTypedResponse<R>;
}

/** The same answer as status, JSON text (the bytes c.json sends) and headers, for a lane in front of the router. */
export function commandAnswer(result: CommandResult): {
  status: number;
  body: string;
  headers?: Record<string, string>;
} {
  const reply = commandReply(result);
  const body = JSON.stringify({ data: reply.data });
  return reply.location
    ? { status: reply.status, body, headers: { Location: reply.location } }
    : { status: reply.status, body };
}

/**
 * A refusal decided before any command ran (the stock gate's sold-out answer): the error envelope
 * built directly, without an Error thrown through the middleware.
 */
export function refusalResponse<R extends RouteConfig>(
  c: Context<AppEnv>,
  _route: R,
  code: ErrorCode,
  details?: ErrorDetail[],
): RouteConfigToTypedResponse<R> {
  const response = c.json(refusalBody(code, c.get('lang') ?? 'en', details), ERROR_CODES[code].status as 409);
  return response as unknown as RouteConfigToTypedResponse<R>;
}

/** The same refusal as status and JSON text (the bytes c.json sends), for a lane in front of the router. */
export function refusalJson(
  code: ErrorCode,
  lang: Language,
  details?: ErrorDetail[],
): { status: number; body: string } {
  return { status: ERROR_CODES[code].status, body: JSON.stringify(refusalBody(code, lang, details)) };
}
