import { defineEntity, p } from '@mikro-orm/postgresql';
import { Product } from './product.entity';

/**
 * Stock of one product. `reserved` units are held by PENDING orders; `sold` counts units of paid
 * orders (it feeds the "popular" sort). The database itself refuses 0 > reserved or reserved > stock.
 */
export const InventorySchema = defineEntity({
  name: 'Inventory',
  tableName: 'inventory',
  properties: {
    productId: () => p.oneToOne(Product).mapToPk().fieldName('product_id').primary().owner(),
    stock: p.integer().default(0),
    reserved: p.integer().default(0),
    sold: p.integer().default(0),
    version: p.integer().default(1),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  indexes: [{ name: 'inventory_sold_index', properties: ['sold'] }],
  checks: [
    { name: 'inventory_reserved_within_stock', expression: '0 <= reserved and reserved <= stock' },
    { name: 'inventory_sold_non_negative', expression: 'sold >= 0' },
  ],
});
export class Inventory extends InventorySchema.class {}
InventorySchema.setClass(Inventory);
