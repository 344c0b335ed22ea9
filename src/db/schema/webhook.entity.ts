import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity';

/**
 * An external endpoint that receives signed domain events (`events` lists types, or '*'). Deleting
 * one only stamps `deletedAt`, so its delivery history stays readable and retries in flight stop.
 */
export const WebhookSchema = defineEntity({
  name: 'Webhook',
  tableName: 'webhooks',
  properties: {
    id: p.uuid().primary(),
    url: p.string().length(2048),
    events: p.array(),
    secret: p.string().length(256).hidden(),
    active: p.boolean().default(true),
    /** Deliveries that exhausted their retries since the last success; reset by a success. */
    consecutiveFailures: p.integer().default(0),
    /** Failed attempts in a row, across deliveries; at WEBHOOK_BREAKER_FAILURES the endpoint is paused. */
    failureStreak: p.integer().default(0),
    /** Circuit open: new deliveries wait in webhook_backlog until a probe at this time succeeds. */
    pausedUntil: p.datetime().nullable(),
    disabledAt: p.datetime().nullable(),
    createdBy: () => p.manyToOne(User).mapToPk().fieldName('created_by'),
    createdAt: p.datetime(),
    deletedAt: p.datetime().nullable(),
  },
  indexes: [{ name: 'webhooks_active_index', properties: ['active'], where: 'deleted_at is null' }],
});
export class Webhook extends WebhookSchema.class {}
WebhookSchema.setClass(Webhook);

/** An event held for a paused endpoint (circuit open); released as jobs when a probe succeeds. */
export const WebhookBacklogSchema = defineEntity({
  name: 'WebhookBacklog',
  tableName: 'webhook_backlog',
  properties: {
    webhookId: () => p.manyToOne(Webhook).mapToPk().fieldName('webhook_id').primary(),
    eventId: p.string().length(120).primary(),
    event: p.json<Record<string, unknown>>(),
    heldAt: p.datetime(),
  },
});
export class WebhookBacklog extends WebhookBacklogSchema.class {}
WebhookBacklogSchema.setClass(WebhookBacklog);
