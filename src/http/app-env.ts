import type { Role } from '../db/schema/user.entity';
import type { Language } from '../errors/error-codes';
import type { Logger } from '../logger';

export interface AuthUser {
  id: string;
  role: Role;
}

/** What middleware puts on every request's context. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The process logger; requestLog(c) gives a child carrying the request id. */
    log: Logger;
    lang: Language;
    user: AuthUser | undefined;
  };
}
