const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/**
 * True for errors that mean PostgreSQL or Redis is unreachable or shutting down: those answer 503
 * (the request can be retried later), never 500.
 */
export function isInfrastructureUnavailable(error: unknown): boolean {
  type Cause = { code?: unknown; message?: unknown; cause?: unknown };
  const asCause = (value: unknown): Cause | undefined =>
    value !== null && typeof value === 'object' ? (value as Cause) : undefined;
  for (let e = asCause(error), depth = 0; e && depth < 5; e = asCause(e.cause), depth++) {
    if (typeof e.code === 'string') {
      if (CONNECTION_CODES.has(e.code)) return true;
      // PostgreSQL SQLSTATE classes 08 (connection exception) and 57P (operator intervention).
      if (/^08...$/.test(e.code) || /^57P0[1-3]$/.test(e.code)) return true;
    }
    const message = String(e.message ?? '');
    if (
      /Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED/i.test(
        message,
      )
    ) {
      return true;
    }
  }
  return false;
}
