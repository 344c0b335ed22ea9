import { z } from '@hono/zod-openapi';
import { NOTIFICATION_TYPES } from '../../db/schema/notification.entity';
import { NOTIFICATION_SORT_FIELDS } from '../../notifications/notifications.service';
import { pagingQuery, sortByQuery } from './common';

export const NotificationSchema = z
  .object({
    id: z.uuid(),
    type: z.enum(NOTIFICATION_TYPES),
    title: z.string(),
    body: z.string(),
    orderId: z.uuid().nullable(),
    createdAt: z.string(),
    readAt: z.string().nullable(),
  })
  .openapi('Notification');

export const NotificationListQuery = z.object({
  unread: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .openapi({ type: 'boolean', description: 'true: only unread; false: only read; absent: all' }),
  sort: sortByQuery(NOTIFICATION_SORT_FIELDS),
  ...pagingQuery,
});
