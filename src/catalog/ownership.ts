import type { Role } from '../db/schema/user.entity';
import { DomainError } from '../errors/domain-error';

/** Who is asking: the authenticated user of a request, or the user a message acts for. */
export interface Actor {
  id: string;
  role: Role;
}

/** Only the seller who owns a product, or an admin, may change it or its stock. */
export function assertMayManage(actor: Actor, sellerId: string): void {
  if (actor.role === 'ADMIN') return;
  if (actor.role === 'SELLER' && actor.id === sellerId) return;
  throw new DomainError('FORBIDDEN', 'Only the seller who owns this product or an admin may change it');
}
