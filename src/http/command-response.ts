import type { Context } from 'hono';
import type { CommandOutcome } from '../commands/dispatch';
import type { AppEnv } from './app-env';

/**
 * Answers a mailbox command: its outcome, or 202 with `Location` of the receipt to poll. The status
 * is decided at run time, so the typed-route check is relaxed here (the route documents each one).
 */
export function commandResponse(c: Context<AppEnv>, outcome: CommandOutcome): any {
  if (outcome.location) c.header('Location', outcome.location);
  return c.json(outcome.body as never, outcome.httpStatus as 200);
}
