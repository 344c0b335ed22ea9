import { BalanceTransaction } from './balance-transaction.entity';
import { CartItem } from './cart-item.entity';
import { Inventory } from './inventory.entity';
import { Product } from './product.entity';
import { User } from './user.entity';

/** Every entity the ORM knows; add new ones here. */
export const entities = [User, BalanceTransaction, Product, Inventory, CartItem];
