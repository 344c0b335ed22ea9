import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { hostOf, isPublicAddress, publicOnlyLookup } from './endpoint-guard';
import { signWebhook } from './signature';

export interface PostResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one signed event body. Never throws: the outcome (status code or error) is what the caller
 * records. Redirects are not followed (a 3xx is a failure), the whole exchange is bounded by
 * `timeoutMs`, and with `publicOnly` the connection may only go to a public address.
 */
export async function postSignedEvent(options: {
  url: string;
  secret: string;
  eventType: string;
  rawBody: string;
  timeoutMs: number;
  publicOnly: boolean;
}): Promise<PostResult> {
  const started = performance.now();
  const done = (statusCode: number | null, error: string | null): PostResult => ({
    statusCode,
    error,
    durationMs: Math.round(performance.now() - started),
  });
  const url = new URL(options.url);
  const host = hostOf(url);
  if (options.publicOnly && isIP(host) && !isPublicAddress(host)) {
    return done(null, `${host} is not a public address`);
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(options.rawBody)),
    'user-agent': 'shop-webhooks/1',
    'x-shop-event': options.eventType,
    'x-shop-timestamp': String(timestamp),
    'x-shop-signature': signWebhook(options.secret, timestamp, options.rawBody),
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostResult>((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(options.timeoutMs),
        ...(options.publicOnly ? { lookup: publicOnlyLookup } : {}),
      },
      (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('error', () => resolve(done(res.statusCode ?? null, null)));
        res.on('close', () => resolve(done(res.statusCode ?? null, null)));
      },
    );
    req.on('error', (error: Error & { code?: string }) => {
      const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError';
      resolve(done(null, timedOut ? `timed out after ${options.timeoutMs} ms` : error.message));
    });
    req.end(options.rawBody);
  });
}
