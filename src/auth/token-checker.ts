import { dropOldest } from '../bounded-map';
import type { Row } from '../db/database';
import type { Orm } from '../db/orm';
import type { Role } from '../db/schema/user.entity';
import { preparedStatement, query, sql } from '../db/sql';
import { isUuid } from '../ids';
import type { AuthUser } from './auth-user';
import type { TokenService } from './tokens';

export type TokenRefusal = 'expired' | 'revoked' | 'invalid';

export interface Standing {
  role: Role;
  tokenVersion: number;
}

const CACHE_SIZE = 10_000;
/** At most this many users' standings are read in one query. */
const MAX_READ_BATCH = 500;

interface QueuedRead {
  resolve: (standing: Standing | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Decides whether a verified token still speaks for its user: the user must exist and the token's
 * version must be the user's current one (a role change, a password change and a logout bump it).
 * What a process read of a user is trusted for `cacheMs` (≤ 5 s): a token revoked through another
 * process stops working within that; one revoked through this process at once (forget()).
 */
export class TokenChecker {
  private readonly standings = new Map<string, { standing: Standing | undefined; until: number }>();
  private readonly inFlight = new Map<string, Promise<Standing | undefined>>();
  private readonly queued = new Map<string, QueuedRead>();
  private readScheduled = false;

  constructor(
    private readonly tokens: TokenService,
    private readonly orm: () => Orm,
    private readonly cacheMs: number,
  ) {}

  /** The user a bearer token speaks for now, or undefined (invalid, expired, revoked, user gone). */
  async authenticate(token: string): Promise<AuthUser | undefined> {
    const claims = await this.tokens.verify(token);
    if (!claims) return undefined;
    const standing = await this.standing(claims.id);
    if (!standing || standing.tokenVersion !== claims.tokenVersion) return undefined;
    return { id: claims.id, role: standing.role };
  }

  /**
   * Why `authenticate` refused a token, for the 401's message: expired, revoked (a genuine token whose
   * user is gone or whose version moved on: a logout, a password or role change), or invalid.
   */
  refusal(token: string): TokenRefusal {
    const diagnosis = this.tokens.diagnose(token);
    return diagnosis === 'genuine' ? 'revoked' : diagnosis;
  }

  /** Drops what this process remembers of a user, after changing its role or token version. */
  forget(userId: string): void {
    this.standings.delete(userId);
    this.inFlight.delete(userId);
  }

  /** The user's current role and token version (cached), undefined when the user does not exist. */
  async standing(userId: string): Promise<Standing | undefined> {
    const cached = this.standings.get(userId);
    if (cached && cached.until > Date.now()) return cached.standing;
    this.standings.delete(userId);
    // Concurrent requests of one user share one read.
    let pending = this.inFlight.get(userId);
    if (!pending) {
      pending = this.read(userId);
      this.inFlight.set(userId, pending);
    }
    try {
      const standing = await pending;
      if (this.inFlight.get(userId) === pending && this.cacheMs > 0) {
        this.standings.set(userId, { standing, until: Date.now() + this.cacheMs });
        dropOldest(this.standings, CACHE_SIZE);
      }
      return standing;
    } finally {
      if (this.inFlight.get(userId) === pending) this.inFlight.delete(userId);
    }
  }

  /**
   * Reads of users this process does not know yet are batched: the users asked for within one turn of
   * the event loop are read in one query (a stampede of new buyers costs a query per batch, not one per
   * buyer; a lone request waits one turn). Requests that arrive together are judged on one snapshot.
   */
  private read(userId: string): Promise<Standing | undefined> {
    if (!isUuid(userId)) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.queued.set(userId, { resolve, reject });
      this.scheduleRead();
    });
  }

  private scheduleRead(): void {
    if (this.readScheduled) return;
    this.readScheduled = true;
    setImmediate(() => {
      this.readScheduled = false;
      void this.readQueued();
    });
  }

  private async readQueued(): Promise<void> {
    const batch = [...this.queued].slice(0, MAX_READ_BATCH);
    for (const [userId] of batch) this.queued.delete(userId);
    if (this.queued.size > 0) this.scheduleRead();
    const ids = batch.map(([userId]) => userId);
    try {
      const rows = await query<Row<'users', 'id' | 'role' | 'token_version'>>(
        this.orm().em.fork(),
        // Named: a rush of new buyers runs it once per batch, and the text never varies.
        preparedStatement(sql`select id, role, token_version from users where id = any(${ids}::uuid[])`),
      );
      const found = new Map(rows.map((row) => [row.id, row]));
      for (const [userId, read] of batch) {
        const row = found.get(userId.toLowerCase());
        read.resolve(row ? { role: row.role, tokenVersion: row.token_version } : undefined);
      }
    } catch (error) {
      for (const [, read] of batch) read.reject(error);
    }
  }
}
