import { z } from '@hono/zod-openapi';
import { OUTBOX_STATUSES } from '../../db/schema/outbox-event.entity';
import { PUBLIC_EVENT_TYPES } from '../../messaging/domain-events';
import { OUTBOX_SORT_FIELDS } from '../../outbox/outbox-admin';
import { isStorableText, text, UNSTORABLE_TEXT_MESSAGE } from '../../validation/text';
import { WEBHOOK_SORT_FIELDS } from '../../webhooks/webhooks.service';
import { pagingQuery, queryInt, sortByQuery } from './common';

export const OutboxEventSchema = z
  .object({
    id: z.uuid(),
    aggregateType: z.string(),
    aggregateId: z.string(),
    type: z.string(),
    queue: z.string(),
    payload: z.record(z.string(), z.unknown()),
    status: z.enum(OUTBOX_STATUSES),
    attempts: z.number().int(),
    createdAt: z.string(),
    nextAttemptAt: z.string(),
    sentAt: z.string().nullable(),
    lastError: z.string().nullable(),
  })
  .openapi('OutboxEvent');

export const OutboxListQuery = z.object({
  status: z.enum(OUTBOX_STATUSES).optional(),
  type: text().trim().min(1).max(60).optional(),
  aggregateId: text().trim().min(1).max(80).optional(),
  sort: sortByQuery(OUTBOX_SORT_FIELDS),
  ...pagingQuery,
});

export const WebhookListQuery = z.object({ sort: sortByQuery(WEBHOOK_SORT_FIELDS), ...pagingQuery });

export const OutboxLagQuery = z.object({
  sinceSeconds: queryInt(1, 7 * 24 * 3600)
    .optional()
    .default(3600)
    .openapi({ type: 'integer', description: 'events committed in the last N seconds (default 3600)' }),
});

export const ConsumerLagSchema = z
  .object({
    consumer: z.string(),
    events: z.number().int(),
    p50Ms: z.number(),
    p99Ms: z.number(),
    maxMs: z.number(),
  })
  .openapi('ConsumerLag');

const MAX_URL_LENGTH = 2048;

export const NewWebhookBody = z
  .object({
    url: z
      .url({ protocol: /^https?$/ })
      .max(MAX_URL_LENGTH)
      .refine(isStorableText, UNSTORABLE_TEXT_MESSAGE)
      .refine((v) => {
        const url = URL.parse(v);
        return !url || (url.username === '' && url.password === '');
      }, 'must not contain credentials')
      .openapi({ example: 'https://example.com/hooks/shop' }),
    events: z
      .array(z.enum([...PUBLIC_EVENT_TYPES, '*']))
      .min(1)
      .max(PUBLIC_EVENT_TYPES.length + 1)
      .openapi({ description: "event types of SPEC §7, or '*' for all of them" }),
    secret: text().min(16).max(256).openapi({ description: '16…256 characters; signs every delivery' }),
  })
  .openapi('NewWebhook');

export const WebhookSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.string()),
    active: z.boolean(),
    status: z.enum(['ACTIVE', 'FAILING', 'DISABLED']),
    consecutiveFailures: z.number().int(),
    createdAt: z.string(),
    disabledAt: z.string().nullable(),
    stats: z.object({
      attempts: z.number().int(),
      delivered: z.number().int(),
      failedAttempts: z.number().int(),
      alerted: z.number().int(),
      lastAttemptAt: z.string().nullable(),
      lastSuccessAt: z.string().nullable(),
      lastFailureAt: z.string().nullable(),
      lastError: z.string().nullable(),
    }),
  })
  .openapi('Webhook');
