import { defineEntity, p } from '@mikro-orm/postgresql';
import { Order } from './order.entity';
import { Product } from './product.entity';

/** A line of an order as it was bought: name and price are copies, never re-read from the product. */
export const OrderItemSchema = defineEntity({
  name: 'OrderItem',
  tableName: 'order_items',
  properties: {
    id: p.uuid().primary(),
    orderId: () => p.manyToOne(Order).mapToPk().fieldName('order_id').index(),
    productId: () => p.manyToOne(Product).mapToPk().fieldName('product_id').index(),
    name: p.string().length(200),
    category: p.string().length(50),
    unitPrice: p.integer(),
    quantity: p.integer(),
    lineTotal: p.integer(),
  },
  checks: [
    { name: 'order_items_quantity_positive', expression: 'quantity > 0' },
    { name: 'order_items_line_total', expression: 'line_total = unit_price * quantity' },
  ],
});
export class OrderItem extends OrderItemSchema.class {}
OrderItemSchema.setClass(OrderItem);
