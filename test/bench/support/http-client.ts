import { request as undiciRequest } from 'undici';
import { LeanPool } from './lean-http';

export interface HttpResponse {
  status: number;
  /** The body as text, only when asked for (`readBody`); otherwise it is drained unread. */
  body: string | undefined;
}

export interface HttpRequestOptions {
  headers?: Record<string, string>;
  body?: unknown;
  readBody?: boolean;
}

export interface HttpClient {
  request: (method: string, path: string, options?: HttpRequestOptions) => Promise<HttpResponse>;
  /**
   * GETs a streamed response (Server-Sent Events) on a connection of its own, reading until `done`
   * holds for the text received so far (or `signal` aborts); then drops the connection, as a client
   * closing its EventSource does. Resolves with the status and the text read.
   */
  watch: (
    path: string,
    options: { headers?: Record<string, string>; signal: AbortSignal },
    done: (text: string) => boolean,
  ) => Promise<HttpResponse>;
  close: () => Promise<void>;
}

/**
 * A keep-alive client with one connection per virtual user (a closed loop of N users holds N
 * persistent connections, like N API clients), no pipelining, over the lean HTTP/1.1 client
 * (lean-http.ts): the load generator shares the two cores with what it measures, and undici spent
 * about as much CPU per request as the bare server it loaded. The raw HTTP ceilings are loaded through
 * the same client, so its cost weighs on both sides of every ratio. Event streams (`watch`) use undici.
 */
export function createHttpClient(baseUrl: string, connections: number): HttpClient {
  const pool = new LeanPool(baseUrl, connections);
  const request = (method: string, path: string, options: HttpRequestOptions = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    return pool.request(method, path, headers, body, options.readBody === true);
  };
  const watch: HttpClient['watch'] = async (path, { headers, signal }, done) => {
    const res = await undiciRequest(new URL(path, baseUrl), { method: 'GET', headers, signal });
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += String(chunk);
        if (done(text)) break;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      res.body.destroy();
    }
    return { status: res.statusCode, body: text };
  };
  return { request, watch, close: () => pool.close() };
}
