import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context';
import type { Language } from '../errors/error-codes';
import { isUuid } from '../ids';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import type { AuthUser } from './app-env';
import { errorAnswer } from './error-handler';
import { bearerToken } from './middleware/auth';
import { fromNodeServer } from './middleware/body-limit';
import { languageOf, logAccess, requestIdFrom } from './middleware/request-context';
import { preparedJsonResponse, writePreparedJson } from './prepared-response';

/**
 * What the lanes in front of the router share (the cached read, the sold-out order, the coupon issue):
 * each answers one hot request exactly as the router would and hands everything it is not sure of to
 * the router, which then answers it with its whole middleware chain.
 */

export type Fetch = (request: Request, ...rest: never[]) => Response | Promise<Response>;

/** A lane on Node's own request and response, in front of @hono/node-server's listener (`next`). */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * The lanes on Node's own request answer after Node's request event, in promises nobody awaits: what
 * they throw would be an unhandled rejection, the process's end. This answers it as the error handler
 * would (logged, the 500 envelope in the client's language), or ends the connection when the answer
 * had begun.
 */
export function guardNodeLanes(front: NodeListener, log: Logger): NodeListener {
  return (req, res) => {
    const handled = front(req, res);
    if (handled instanceof Promise) {
      handled.catch((error: unknown) => {
        const answer = errorAnswer(error, languageOf(headerOf(req, 'accept-language')), () => log);
        if (res.headersSent) res.destroy();
        else {
          const requestId = requestIdFrom(headerOf(req, 'x-request-id'));
          writePreparedJson(res, requestId, answer.status, JSON.stringify(answer.body), answer.headers);
        }
      });
    }
    return handled;
  };
}

/**
 * What the error handler answers to `error`, as a lane's answer (logged under the request's id when it
 * is unexpected or a dependency is down).
 */
export function laneErrorAnswer(
  ctx: AppContext,
  req: LaneRequest<AuthUser | undefined>,
  error: unknown,
): LaneAnswer {
  const answer = errorAnswer(error, req.lang, () => ctx.log.child({ requestId: req.requestId }));
  return { status: answer.status, body: JSON.stringify(answer.body), headers: answer.headers };
}

/**
 * The id of `prefix{uuid}` — nothing after it, no query string — or undefined: the single-resource
 * paths the lanes answer (`/api/v1/products/{id}`, `/api/v1/orders/{id}`).
 */
export function uuidAfter(prefix: string, path: string): string | undefined {
  if (path.length !== prefix.length + 36 || !path.startsWith(prefix)) return undefined;
  const id = path.slice(prefix.length);
  return isUuid(id) ? id : undefined;
}

/** The JSON media types the router's body validator accepts, spelled the common ways (a subset is enough). */
const JSON_TYPES = new Set([
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
]);

/**
 * The path of an absolute request URL, or undefined when it has a query string: a query may carry a
 * credential (`?access_token=`), so such requests are the router's.
 */
export function pathWithoutQuery(url: string): string | undefined {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0 || url.indexOf('?', start) >= 0) return undefined;
  return url.slice(start);
}

/**
 * Whether a lane may answer this request at all: no body the body limit would have to count or refuse.
 * `readsBody`: the lane reads the body, so it needs its length up front. (With CORS configured there
 * are no lanes: the CORS middleware adds headers to every API answer, Origin or not.)
 */
export function laneMayAnswer(
  request: Request,
  env: unknown,
  limits: { maxBodyBytes: number; readsBody: boolean },
): boolean {
  const headers = request.headers;
  if (headers.get('transfer-encoding') !== null) return false;
  const length = headers.get('content-length');
  if (length === null) return !limits.readsBody && (fromNodeServer(env) || request.body === null);
  return /^\d+$/.test(length) && Number(length) <= limits.maxBodyBytes;
}

/** A JSON body the router's validator would read as JSON (anything else is the router's to refuse). */
export const hasJsonContentType = (headers: Headers): boolean =>
  isJsonContentType(headers.get('content-type'));

/** hasJsonContentType of one Content-Type value (as Node's request holds it). */
export const isJsonContentType = (value: string | null | undefined): boolean => JSON_TYPES.has(value ?? '');

/**
 * The user the bearer token speaks for (the token checker's per-process caches; a user new to the
 * process is read as the router would read it), or undefined when the router must answer: no token,
 * a malformed header, an invalid, expired or revoked token, a lookup that failed.
 */
export async function laneUser(
  ctx: AppContext,
  header: string | null | undefined,
): Promise<AuthUser | undefined> {
  if (header === null || header === undefined) return undefined;
  const token = bearerToken(header);
  if (!token) return undefined;
  try {
    return await ctx.tokenChecker.authenticate(token);
  } catch {
    return undefined;
  }
}

/** The router's request again, for a lane that read the body and then found the request is not its own. */
export function withBodyAgain(request: Request, body: ArrayBuffer): Request {
  return new Request(request.url, { method: request.method, headers: request.headers, body });
}

/** One request a lane answers: what the router's request context would have made of it. */
export interface LaneRequest<User extends AuthUser | undefined = AuthUser> {
  started: number;
  requestId: string;
  lang: Language;
  path: string;
  /** Undefined for an anonymous read. */
  user: User;
}

export function laneRequest<User extends AuthUser | undefined>(
  request: Request,
  path: string,
  user: User,
  started: number,
): LaneRequest<User> {
  const headers = request.headers;
  return laneRequestOf(headers.get('x-request-id'), headers.get('accept-language'), path, user, started);
}

/** laneRequest from the header values themselves (a lane on Node's own request reads them there). */
function laneRequestOf<User extends AuthUser | undefined>(
  requestId: string | null | undefined,
  acceptLanguage: string | null | undefined,
  path: string,
  user: User,
  started: number,
): LaneRequest<User> {
  return {
    started,
    requestId: requestIdFrom(requestId),
    lang: languageOf(acceptLanguage ?? undefined),
    path,
    user,
  };
}

/** laneRequest of Node's own request (the lanes in front of @hono/node-server). */
export function nodeLaneRequest<User extends AuthUser | undefined>(
  req: IncomingMessage,
  path: string,
  user: User,
  started: number,
): LaneRequest<User> {
  const headers = req.headers;
  return laneRequestOf(headerOf(req, 'x-request-id'), headers['accept-language'], path, user, started);
}

/** Whether Node's request carries no body a lane would have to count or read (no length, or 0; not chunked). */
export function nodeRequestHasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined;
}

/**
 * Whether Node's request has a body a lane may read whole: a Content-Length within the limit (the
 * parser then delivers exactly that many bytes), not chunked. Anything else the router's body limit judges.
 */
export function nodeBodyWithin(req: IncomingMessage, maxBodyBytes: number): boolean {
  const length = req.headers['content-length'];
  return (
    length !== undefined &&
    req.headers['transfer-encoding'] === undefined &&
    /^\d+$/.test(length) &&
    Number(length) <= maxBodyBytes
  );
}

/**
 * The whole body of Node's request (nodeBodyWithin vouches for its size), or undefined when the client
 * went away before sending it.
 */
function readNodeBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    // Either comes before 'end' only when the request was cut off (after it, the promise has settled).
    req.once('error', () => resolve(undefined));
    req.once('close', () => resolve(undefined));
  });
}

/**
 * What a Node lane that reads the body needs first: the user the token speaks for and the whole body.
 * Undefined when the lane is done with the request: handed to `next` (no valid token: the router
 * answers 401), or dropped (the client went away mid-body, nobody is left to answer; the router would
 * only read the same stump).
 */
export async function nodeUserAndBody(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  next: NodeListener,
): Promise<{ user: AuthUser; body: Buffer } | undefined> {
  const user = await laneUser(ctx, req.headers.authorization);
  if (!user) {
    await next(req, res);
    return undefined;
  }
  const body = await readNodeBody(req);
  if (body === undefined) {
    res.destroy();
    return undefined;
  }
  return { user, body };
}

/**
 * Node's request handed on after a lane read its body: @hono/node-server gives the router's Request a
 * `rawBody` Buffer as its body (the stream it would otherwise read has been consumed).
 */
export function withRawBody(req: IncomingMessage, body: Buffer): IncomingMessage {
  return Object.assign(req, { rawBody: body });
}

/** One header of Node's request as a string (repeats of a header Node does not join come as a list). */
const headerOf = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** A lane's answer before it is written: a web Response (app.fetch) or Node's own response. */
export interface LaneAnswer {
  status: number;
  body: string;
  headers?: Record<string, string> | undefined;
}

type Observe = (seconds: number) => void;

/**
 * Answers a lane's requests of one route as the router's middleware would: the prepared JSON answer
 * (request id, security headers), the HTTP histogram's series of the router's route template, the
 * access line at the router's level.
 */
export class LaneAnswers {
  private readonly series = new Map<number, Observe>();

  constructor(
    private readonly ctx: AppContext,
    private readonly metrics: Metrics,
    private readonly method: string,
    /** The route template the router's metrics middleware labels this route with. */
    private readonly route: string,
    /** Whether the router logs the route's access lines at debug (request-context.ts HOT_ROUTES). */
    private readonly hot: boolean,
  ) {}

  answer(req: LaneRequest<AuthUser | undefined>, answer: LaneAnswer): Response {
    const res = preparedJsonResponse(req.requestId, answer.status, answer.body, answer.headers);
    this.record(req, answer.status);
    return res;
  }

  /** The same answer written to Node's own response (a lane in front of @hono/node-server). */
  write(res: ServerResponse, req: LaneRequest<AuthUser | undefined>, answer: LaneAnswer): void {
    writePreparedJson(res, req.requestId, answer.status, answer.body, answer.headers);
    this.record(req, answer.status);
  }

  /** The histogram observation and the access line of an answer written some other way. */
  record(req: LaneRequest<AuthUser | undefined>, status: number): void {
    const ms = performance.now() - req.started;
    this.observe(status)(ms / 1000);
    const hot = this.hot;
    logAccess(
      this.ctx.log,
      ms,
      () => hot,
      () => ({ requestId: req.requestId, method: this.method, path: req.path, status, userId: req.user?.id }),
    );
  }

  /** The histogram child of one status, made once (labelling per request hashes the labels each time). */
  private observe(status: number): Observe {
    let observe = this.series.get(status);
    if (!observe) {
      const child = this.metrics.httpDuration.labels({
        method: this.method,
        route: this.route,
        status: String(status),
      });
      observe = (seconds) => child.observe(seconds);
      this.series.set(status, observe);
    }
    return observe;
  }
}
