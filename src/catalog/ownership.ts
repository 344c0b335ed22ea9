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
  throw new DomainError('FORBIDDEN', {
    en: 'Only the seller who owns this product or an admin may change it',
    ko: '이 상품을 등록한 판매자나 관리자만 변경할 수 있습니다',
  });
}
