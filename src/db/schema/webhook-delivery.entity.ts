import { defineEntity, p } from '@mikro-orm/postgresql';
import { Webhook } from './webhook.entity';

export const DELIVERY_OUTCOMES = ['DELIVERED', 'RETRYING', 'ALERTED', 'ABANDONED'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/**
 * One attempt to deliver one event to one endpoint. RETRYING: failed, another attempt follows;
 * ALERTED: the last attempt failed; ABANDONED: the endpoint was deleted or disabled meanwhile.
 */
export const WebhookDeliverySchema = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: p.uuid().primary(),
    webhookId: () => p.manyToOne(Webhook).mapToPk().fieldName('webhook_id'),
    eventId: p.string().length(120),
    eventType: p.string().length(60),
    attempt: p.integer(),
    statusCode: p.integer().nullable(),
    error: p.text().nullable(),
    durationMs: p.integer(),
    outcome: p.enum(DELIVERY_OUTCOMES),
    at: p.datetime(),
  },
  indexes: [
    { name: 'webhook_deliveries_webhook_at_index', properties: ['webhookId', 'at'] },
    { name: 'webhook_deliveries_event_webhook_index', properties: ['eventId', 'webhookId'] },
  ],
});
export class WebhookDelivery extends WebhookDeliverySchema.class {}
WebhookDeliverySchema.setClass(WebhookDelivery);
