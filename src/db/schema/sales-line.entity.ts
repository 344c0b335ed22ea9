import { defineEntity, p } from '@mikro-orm/postgresql';
import { Order } from './order.entity';
import { Product } from './product.entity';

/**
 * Sales statistics, one row per product of a PAID or CONFIRMED order (written by the statistics
 * consumer when the order is paid, removed when a paid order is cancelled). Insert-only facts rather
 * than per-day counters: a flash sale on one product would otherwise serialize every payment's
 * statistics on one hot row, and distinct order counts per day or category stay exact.
 */
export const SalesLineSchema = defineEntity({
  name: 'SalesLine',
  tableName: 'sales_lines',
  properties: {
    orderId: () => p.manyToOne(Order).mapToPk().fieldName('order_id').primary(),
    productId: () => p.manyToOne(Product).mapToPk().fieldName('product_id').primary(),
    /** The category at order time (order_items keep it), not the product's current one. */
    category: p.string().length(50),
    /** The business day (SHOP_TIMEZONE) the order was paid. */
    day: p.date(),
    paidAt: p.datetime(),
    units: p.integer(),
    /** Sum of the lines' totals, before coupon discounts and refunds. */
    revenue: p.bigint('number'),
  },
  indexes: [
    { name: 'sales_lines_paid_at_index', properties: ['paidAt'] },
    { name: 'sales_lines_day_index', properties: ['day', 'category'] },
  ],
  checks: [{ name: 'sales_lines_positive', expression: 'units > 0 and revenue >= 0' }],
});
export class SalesLine extends SalesLineSchema.class {}
SalesLineSchema.setClass(SalesLine);
