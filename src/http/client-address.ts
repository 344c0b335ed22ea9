import type { Context } from 'hono';

/**
 * The address a request came from: the socket's peer, or — behind `trustProxyHops` reverse proxies —
 * the X-Forwarded-For entry that many places from the right (the entries left of it are whatever the
 * client chose to send). 'unknown' when neither is available (in-process requests).
 */
export function clientAddress(c: Context, trustProxyHops: number): string {
  if (trustProxyHops > 0) {
    const forwarded = (c.req.header('x-forwarded-for') ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const entry = forwarded[forwarded.length - trustProxyHops];
    if (entry) return entry;
  }
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
