import type { AppContext } from '../context';
import { query, sql } from '../db/sql';

/** How long a process trusts its list of active endpoints before reading it again. */
export const ENDPOINTS_TTL_MS = 1000;
const endpointCache = new WeakMap<AppContext, { readAt: number; endpoints: Promise<WebhookEndpoint[]> }>();

/** `paused`: its circuit is open (workers/webhooks/circuit-breaker.ts), its events wait in PostgreSQL. */
export interface WebhookEndpoint {
  id: string;
  events: string[];
  paused: boolean;
}

/**
 * The active endpoints, read at most once a second per process (not once per event): on the hot path
 * most events have no subscriber at all. An endpoint registered or removed through this process is
 * seen at once (`forgetWebhookEndpoints`); other processes see it within ENDPOINTS_TTL_MS.
 */
export function activeWebhookEndpoints(ctx: AppContext) {
  const cached = endpointCache.get(ctx);
  if (cached && Date.now() - cached.readAt < ENDPOINTS_TTL_MS) return cached.endpoints;
  const endpoints = query<WebhookEndpoint>(
    ctx.orm.em.fork(),
    sql`select id, events, paused_until is not null as paused from webhooks where active and deleted_at is null`,
  );
  endpointCache.set(ctx, { readAt: Date.now(), endpoints });
  endpoints.catch(() => endpointCache.delete(ctx));
  return endpoints;
}

export function forgetWebhookEndpoints(ctx: AppContext): void {
  endpointCache.delete(ctx);
}
