import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './openapi';

export type { components, paths } from './openapi';
export type ShopClient = Client<paths>;
export type Schemas = components['schemas'];

export interface ShopClientOptions {
  /** The shop's origin, e.g. http://localhost:3000 (paths start with /api/v1). */
  baseUrl: string;
  /** A bearer token from POST /api/v1/auth/login; sent on every request. */
  token?: string;
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A typed client for the storefront API: `client.GET('/api/v1/orders/{id}', { params: { path: { id } } })`
 * checks the path, parameters and body against the OpenAPI document and types `data` and `error`.
 */
export function createShopClient(options: ShopClientOptions): ShopClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  if (options.token) {
    const authorization = `Bearer ${options.token}`;
    client.use({
      onRequest: ({ request }) => {
        request.headers.set('authorization', authorization);
        return request;
      },
    });
  }
  return client;
}

/** What openapi-fetch returns for a command on an order (POST /orders, /orders/{id}/cancel, …). */
interface OrderCommandAnswer {
  data?: { data: Schemas['Order'] | Schemas['CommandReceipt'] };
  error?: unknown;
  response: Response;
}

/**
 * The order a command on an order produced. Usually the answer carries it (200/201); a command that
 * outlasted the shop's reply window is answered 202 with a receipt instead, and its outcome is read
 * from `GET /api/v1/commands/{id}` (every `pollMs`, for at most `timeoutMs`), then the order from the
 * receipt's `resource`. Throws with the API's error envelope when the command was refused or failed.
 */
export async function orderOf(
  client: ShopClient,
  answer: OrderCommandAnswer,
  { pollMs = 100, timeoutMs = 30_000 } = {},
): Promise<Schemas['Order']> {
  const failed = (what: string, error: unknown): never => {
    throw new Error(`${what}: ${JSON.stringify(error)}`);
  };
  if (!answer.data) return failed(`HTTP ${answer.response.status}`, answer.error);
  if (answer.response.status !== 202) return answer.data.data as Schemas['Order'];
  const receipt = answer.data.data as Schemas['CommandReceipt'];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data, error } = await client.GET('/api/v1/commands/{id}', {
      params: { path: { id: receipt.id } },
    });
    if (!data) return failed(`GET /api/v1/commands/${receipt.id}`, error);
    const { status, resource, error: refusal } = data.data;
    if (status === 'FAILED') return failed(`command ${receipt.id} failed`, refusal);
    if (status === 'DONE' && resource) {
      const id = resource.slice(resource.lastIndexOf('/') + 1);
      const order = await client.GET('/api/v1/orders/{id}', { params: { path: { id } } });
      return order.data ? order.data.data : failed(`GET ${resource}`, order.error);
    }
    if (Date.now() > deadline) return failed(`command ${receipt.id} still ${status}`, data.data);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The data of an `event: status` on the order's live stream (the route's description in the document). */
export interface OrderStatusEvent {
  orderId: string;
  status: Schemas['Order']['status'];
  state: string;
  cancelReason: string | null;
  /** Newer events have a higher version; the stream never repeats or goes back. */
  version: number;
  updatedAt: string;
}

/**
 * The live status of an order (`GET /api/v1/orders/{id}/events`, Server-Sent Events): yields each
 * `status` event until the stream ends or `signal` aborts. Heartbeat comments are skipped.
 */
export async function* watchOrderStatus(
  client: ShopClient,
  orderId: string,
  signal?: AbortSignal,
): AsyncGenerator<OrderStatusEvent> {
  const { response, error } = await client.GET('/api/v1/orders/{id}/events', {
    params: { path: { id: orderId } },
    parseAs: 'stream',
    ...(signal ? { signal } : {}),
  });
  if (error || !response.body) throw new Error(`order status stream refused: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const event = parseServerSentEvent(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        if (event?.event === 'status') yield JSON.parse(event.data) as OrderStatusEvent;
        end = buffered.indexOf('\n\n');
      }
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  } finally {
    reader.releaseLock();
    await response.body.cancel().catch(() => undefined);
  }
}

function parseServerSentEvent(block: string): { event: string; data: string } | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length > 0 ? { event, data: data.join('\n') } : undefined;
}
