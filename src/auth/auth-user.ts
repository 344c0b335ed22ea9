import type { Role } from '../db/schema/user.entity';

/** Who sent a request, as a verified token says: what every module authorizes against. */
export interface AuthUser {
  id: string;
  role: Role;
}
