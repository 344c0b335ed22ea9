import { createHmac, timingSafeEqual } from 'node:crypto';

/** Seconds a receiver should accept between X-Shop-Timestamp and its own clock (docs/webhooks.md). */
export const SIGNATURE_TOLERANCE_S = 300;

/** `sha256=` + hex HMAC-SHA256(secret, timestamp + "." + rawBody), exactly as API.md specifies. */
export function signWebhook(secret: string, timestamp: number | string, rawBody: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  return `sha256=${mac}`;
}

/**
 * What a receiver does (and what the tests' receiver does): recompute the signature over the raw
 * body, compare in constant time, and reject a timestamp outside the tolerance (a replay).
 */
export function verifyWebhook(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: string,
  nowS = Math.floor(Date.now() / 1000),
  toleranceS = SIGNATURE_TOLERANCE_S,
): boolean {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
