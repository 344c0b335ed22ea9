import type { AuthUser } from '../auth/auth-user';
import type { Language } from '../errors/error-codes';
import type { Logger } from '../logger';

export type { AuthUser };

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
