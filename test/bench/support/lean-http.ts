import { connect, type Socket } from 'node:net';

/**
 * The load generator's HTTP/1.1 client: keep-alive sockets, one request in flight per socket (no
 * pipelining), requests written as one string and answers read by the status line, Content-Length or
 * chunked framing. It parses no header but those three, which is all a closed loop needs; undici's
 * per-header and per-request machinery cost the load generator as much CPU per request as the bare
 * server it loads (0.085–0.12 ms on the shared box), so with undici the load generator set the
 * measured ceilings as much as the servers did. The shop and every raw HTTP ceiling go through it.
 */

export interface LeanResponse {
  status: number;
  body: string | undefined;
}

interface Pending {
  resolve: (res: LeanResponse) => void;
  reject: (error: Error) => void;
  readBody: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

type Framing = { length: number; chunked: boolean; close: boolean };

const SPELLINGS = (name: string) => [Buffer.from(`\r\n${name}:`), Buffer.from(`\r\n${name.toLowerCase()}:`)];
const CONTENT_LENGTH = SPELLINGS('Content-Length');
const TRANSFER_ENCODING = SPELLINGS('Transfer-Encoding');
const CONNECTION_CLOSE = SPELLINGS('Connection: close').map((b) => b.subarray(0, b.length - 1));

/**
 * A response's framing from its head (`end` is where the blank line starts). Node writes the headers
 * it adds as Content-Length, Transfer-Encoding and Connection; those two spellings are found in the raw
 * bytes, and any other spelling falls back to reading the lower-cased head.
 */
function framing(buffer: Buffer, end: number, status: number): Framing {
  const find = (spellings: Buffer[]) => {
    for (const spelling of spellings) {
      const at = buffer.indexOf(spelling);
      if (at >= 0 && at < end) return at + spelling.length;
    }
    return -1;
  };
  const close = find(CONNECTION_CLOSE) >= 0;
  if (status === 204 || status === 304 || (status >= 100 && status < 200))
    return { length: 0, chunked: false, close };
  const length = find(CONTENT_LENGTH);
  if (length >= 0) {
    return {
      length: Number.parseInt(buffer.toString('latin1', length, buffer.indexOf(CRLF, length)), 10),
      chunked: false,
      close,
    };
  }
  if (find(TRANSFER_ENCODING) < 0) return slowFraming(buffer.toString('latin1', 0, end).toLowerCase(), close);
  return { length: -1, chunked: true, close };
}

function slowFraming(head: string, close: boolean): Framing {
  const closing = close || /\r\nconnection: *close/.test(head);
  const lengthAt = head.indexOf('\r\ncontent-length:');
  if (lengthAt >= 0)
    return { length: Number.parseInt(head.slice(lengthAt + 17), 10), chunked: false, close: closing };
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) return { length: -1, chunked: true, close: closing };
  // No framing: the body runs to the end of the connection.
  return { length: Number.POSITIVE_INFINITY, chunked: false, close: true };
}

class LeanConnection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private status = 0;
  private bodyStart = -1;
  private length = 0;
  private chunked = false;
  private closeAfter = false;
  closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (connection: LeanConnection) => void,
    onClosed: (connection: LeanConnection) => void,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => {
      this.fail(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
      onClosed(this);
    });
  }

  send(text: string, pending: Pending): void {
    this.pending = pending;
    this.socket.write(text);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.bodyStart < 0) {
      const end = this.buffer.indexOf(HEAD_END);
      if (end < 0) return;
      this.status = (this.buffer[9]! - 48) * 100 + (this.buffer[10]! - 48) * 10 + (this.buffer[11]! - 48);
      ({
        length: this.length,
        chunked: this.chunked,
        close: this.closeAfter,
      } = framing(this.buffer, end + 2, this.status));
      this.bodyStart = end + 4;
    }
    const bodyEnd = this.chunked ? chunkedEnd(this.buffer, this.bodyStart) : this.bodyStart + this.length;
    if (bodyEnd < 0 || this.buffer.length < bodyEnd) return;
    const pending = this.pending;
    const body = pending?.readBody ? this.bodyText(bodyEnd) : undefined;
    const status = this.status;
    this.buffer = this.buffer.length > bodyEnd ? this.buffer.subarray(bodyEnd) : Buffer.alloc(0);
    this.bodyStart = -1;
    this.pending = undefined;
    if (this.closeAfter) this.destroy();
    else this.onIdle(this);
    pending?.resolve({ status, body });
  }

  private bodyText(bodyEnd: number): string {
    if (!this.chunked) return this.buffer.toString('utf8', this.bodyStart, bodyEnd);
    const parts: Buffer[] = [];
    let at = this.bodyStart;
    for (;;) {
      const lineEnd = this.buffer.indexOf(CRLF, at);
      const size = Number.parseInt(this.buffer.toString('latin1', at, lineEnd), 16);
      if (size === 0) break;
      parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  private fail(error: Error): void {
    this.closed = true;
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    // A body framed by the end of the connection ends here.
    if (this.bodyStart >= 0 && this.length === Number.POSITIVE_INFINITY) {
      pending.resolve({
        status: this.status,
        body: pending.readBody ? this.buffer.toString('utf8', this.bodyStart) : undefined,
      });
      return;
    }
    pending.reject(error);
  }
}

/** Where a complete chunked body ends (after its last chunk and trailers), or -1 while incomplete. */
export function chunkedEnd(buffer: Buffer, start: number): number {
  let at = start;
  for (;;) {
    const lineEnd = buffer.indexOf(CRLF, at);
    if (lineEnd < 0) return -1;
    const size = Number.parseInt(buffer.toString('latin1', at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error('malformed chunked body');
    if (size === 0) {
      const trailersEnd = buffer.indexOf(HEAD_END, lineEnd);
      if (buffer.length >= lineEnd + 4 && buffer[lineEnd + 2] === 13 && buffer[lineEnd + 3] === 10)
        return lineEnd + 4;
      return trailersEnd < 0 ? -1 : trailersEnd + 4;
    }
    at = lineEnd + 2 + size + 2;
    if (buffer.length < at) return -1;
  }
}

/** Up to `connections` keep-alive connections to one origin; a request waits for a free one. */
export class LeanPool {
  private readonly idle: LeanConnection[] = [];
  private readonly waiting: Array<(connection: LeanConnection) => void> = [];
  private readonly open = new Set<LeanConnection>();
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private closing = false;

  constructor(
    baseUrl: string,
    private readonly connections: number,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.hostHeader = url.host;
  }

  request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    readBody: boolean,
  ): Promise<LeanResponse> {
    let text = `${method} ${path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const name in headers) text += `${name}: ${headers[name]}\r\n`;
    if (body !== undefined) text += `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    else text += '\r\n';
    return new Promise<LeanResponse>((resolve, reject) => {
      const pending = { resolve, reject, readBody };
      const connection = this.take();
      if (connection) connection.send(text, pending);
      else this.waiting.push((free) => free.send(text, pending));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const connection of this.open) connection.destroy();
    this.open.clear();
    this.idle.length = 0;
  }

  private take(): LeanConnection | undefined {
    if (this.closing) throw new Error('the pool is closed');
    while (this.idle.length > 0) {
      const connection = this.idle.pop()!;
      if (!connection.closed) return connection;
      this.open.delete(connection);
    }
    for (const connection of this.open) if (connection.closed) this.open.delete(connection);
    if (this.open.size >= this.connections) return undefined;
    const connection = new LeanConnection(
      this.host,
      this.port,
      (free) => this.released(free),
      (gone) => this.dropped(gone),
    );
    this.open.add(connection);
    return connection;
  }

  /** A closed connection makes room for a waiting request. */
  private dropped(connection: LeanConnection): void {
    this.open.delete(connection);
    if (this.closing || this.waiting.length === 0) return;
    const fresh = this.take();
    if (fresh) this.waiting.shift()!(fresh);
  }

  private released(connection: LeanConnection): void {
    const next = this.waiting.shift();
    if (next) next(connection);
    else this.idle.push(connection);
  }
}
