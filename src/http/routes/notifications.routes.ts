import { createRoute } from '@hono/zod-openapi';
import type { AppContext } from '../../context';
import { listNotifications, markNotificationRead } from '../../notifications/notifications.service';
import { dataEnvelope, pageEnvelope } from '../envelope';
import { currentUser, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonContent } from '../openapi';
import { idParam } from '../schemas/common';
import { NotificationListQuery, NotificationSchema } from '../schemas/notification.schemas';

const guarded = { security: bearerSecurity, middleware: requireUser, tags: ['Notifications'] };

const list = createRoute({
  method: 'get',
  path: '/',
  summary: "The caller's notifications, newest first",
  ...guarded,
  request: { query: NotificationListQuery },
  responses: {
    200: jsonContent(pageEnvelope(NotificationSchema), 'A page of notifications'),
    ...errorResponses('UNAUTHORIZED'),
  },
});

const markRead = createRoute({
  method: 'post',
  path: '/{id}/read',
  summary: 'Mark one of your notifications read',
  ...guarded,
  request: { params: idParam },
  responses: {
    200: jsonContent(dataEnvelope(NotificationSchema), 'The notification, read'),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND'),
  },
});

/** Mounted at /notifications. */
export function notificationRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(list, async (c) =>
      c.json(await listNotifications(ctx, currentUser(c), c.req.valid('query'), c.get('lang')), 200),
    )
    .openapi(markRead, async (c) =>
      c.json(
        { data: await markNotificationRead(ctx, currentUser(c), c.req.valid('param').id, c.get('lang')) },
        200,
      ),
    );
}
