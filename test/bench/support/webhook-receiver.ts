import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Samples, summarize } from './stats';

/**
 * A webhook endpoint in the bench process (the "external data platform" of issue 6): it answers 204
 * at once and notes, per delivery, how long after the event's commit (`occurredAt`, the outbox row's
 * created_at) it arrived. Signatures are not checked: that is the webhook tests' job.
 */
export class WebhookReceiver {
  private readonly server = http.createServer((req, res) => this.receive(req, res));
  private readonly deliveries: { occurredAt: number; lagMs: number }[] = [];
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/shop`;
    return this;
  }

  get received(): number {
    return this.deliveries.length;
  }

  /** Delivery lag of the events that occurred in [from, to] (ms since the epoch). */
  lag(from: number, to = Number.POSITIVE_INFINITY) {
    const samples = new Samples();
    for (const d of this.deliveries) if (d.occurredAt >= from && d.occurredAt <= to) samples.push(d.lagMs);
    return summarize(samples.values());
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private receive(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const arrived = Date.now();
      try {
        const { occurredAt } = JSON.parse(Buffer.concat(chunks).toString()) as { occurredAt: string };
        const at = Date.parse(occurredAt);
        this.deliveries.push({ occurredAt: at, lagMs: arrived - at });
      } catch {
        // Not an event: counted nowhere.
      }
      res.writeHead(204).end();
    });
  }
}
