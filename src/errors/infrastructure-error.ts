const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

type Cause = { code?: unknown; message?: unknown; cause?: unknown };
const asCause = (value: unknown): Cause | undefined =>
  value !== null && typeof value === 'object' ? (value as Cause) : undefined;

/**
 * SQLSTATEs PostgreSQL answers for a value it cannot take: a NUL byte (22021, or 08P01 "invalid message
 * format" when it arrives inside a protocol message), an escape jsonb refuses (22P05) or malformed
 * input syntax such as a lone surrogate in JSON (22P02). The same request fails the same way every
 * time, so these are the client's fault, never "database down".
 */
const MALFORMED_VALUE_CODES = new Set(['08P01', '22021', '22P05', '22P02']);

/** True when PostgreSQL refused a value (see MALFORMED_VALUE_CODES): a 400, never a 503. */
export function isMalformedValue(error: unknown): boolean {
  for (let e = asCause(error), depth = 0; e && depth < 5; e = asCause(e.cause), depth++) {
    if (typeof e.code === 'string' && MALFORMED_VALUE_CODES.has(e.code)) return true;
  }
  return false;
}

/**
 * True for errors that mean PostgreSQL or Redis is unreachable or shutting down: those answer 503
 * (the request can be retried later), never 500.
 */
export function isInfrastructureUnavailable(error: unknown): boolean {
  if (isMalformedValue(error)) return false;
  for (let e = asCause(error), depth = 0; e && depth < 5; e = asCause(e.cause), depth++) {
    if (typeof e.code === 'string') {
      if (CONNECTION_CODES.has(e.code)) return true;
      // PostgreSQL SQLSTATE classes 08 (connection exception) and 57P (operator intervention).
      if (/^08...$/.test(e.code) || /^57P0[1-3]$/.test(e.code)) return true;
    }
    const message = String(e.message ?? '');
    // A Redis Cluster failing over: a master is gone and its replica not yet promoted.
    if (
      /CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available/.test(
        message,
      )
    )
      return true;
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
