import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity';

/** API.md "Notifications": what a buyer is told. */
export const NOTIFICATION_TYPES = [
  'ORDER_CREATED',
  'PAYMENT_SUCCEEDED',
  'PAYMENT_FAILED',
  'ORDER_CANCELLED',
  'ORDER_EXPIRED',
  'REFUND_COMPLETED',
  'COUPON_ISSUED',
  'COUPON_EXPIRING',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/**
 * A message to one user, built from a domain event. (userId, type, eventId) is unique, so an event
 * delivered twice notifies once even without the consumer's processed-message record.
 */
export const NotificationSchema = defineEntity({
  name: 'Notification',
  tableName: 'notifications',
  properties: {
    id: p.uuid().primary(),
    userId: () => p.manyToOne(User).mapToPk().fieldName('user_id'),
    type: p.enum(NOTIFICATION_TYPES),
    title: p.string().length(200),
    body: p.text(),
    /** The Korean title and body (null on rows written before they were kept: shown in English). */
    titleKo: p.string().length(200).nullable(),
    bodyKo: p.text().nullable(),
    /** The order it is about, if any (a storefront links to it). */
    orderId: p.uuid().nullable(),
    eventId: p.string().length(120),
    readAt: p.datetime().nullable(),
    createdAt: p.datetime(),
  },
  uniques: [{ name: 'notifications_user_type_event_unique', properties: ['userId', 'type', 'eventId'] }],
  indexes: [
    { name: 'notifications_user_created_index', properties: ['userId', 'createdAt'] },
    {
      name: 'notifications_user_unread_index',
      properties: ['userId', 'createdAt'],
      where: 'read_at is null',
    },
  ],
});
export class Notification extends NotificationSchema.class {}
NotificationSchema.setClass(Notification);
