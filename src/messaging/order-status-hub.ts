import type { AppContext } from '../context';
import { orderStatusChannel, parseOrderStatusPing } from './order-status';
import { onChannelMessage, subscribeTo, unsubscribeFrom } from './pubsub';
import { createRedis, type Redis } from './redis';

/** Called when the order may have changed (a ping, or a reconnection after which pings may be missing). */
export type OrderStatusListener = () => void;

const IDLE_DISCONNECT_MS = 30_000;

/**
 * The process's one subscriber connection for live order status, shared by every SSE stream: the
 * order-status channel is subscribed while at least one stream is open, and each ping is handed to the
 * listeners of the orders it names. The connection opens with the first stream and closes after a while
 * without any, so an idle process holds no extra connection.
 */
export class OrderStatusHub {
  private subscriber: Redis | undefined;
  /** By order id. */
  private readonly listeners = new Map<string, Set<OrderStatusListener>>();
  private subscribed: Promise<unknown> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly closers = new Set<() => void>();

  constructor(private readonly ctx: AppContext) {}

  /** Resolves once the channel is subscribed; returns the unsubscribe function. */
  async subscribe(orderId: string, listener: OrderStatusListener): Promise<() => void> {
    clearTimeout(this.idleTimer);
    let set = this.listeners.get(orderId);
    if (!set) {
      set = new Set();
      this.listeners.set(orderId, set);
    }
    set.add(listener);
    try {
      this.subscribed ??= subscribeTo(this.connection(), orderStatusChannel(this.ctx));
      await this.subscribed;
    } catch (error) {
      this.subscribed = undefined;
      this.remove(orderId, listener);
      throw error;
    }
    return () => this.remove(orderId, listener);
  }

  /** Streams register how to end themselves, so a shutting-down server is not held open by them. */
  onClose(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  /** Ends every stream and drops the connection (graceful shutdown). */
  close(): void {
    for (const close of [...this.closers]) close();
    this.closers.clear();
    this.listeners.clear();
    clearTimeout(this.idleTimer);
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    this.subscribed = undefined;
  }

  private remove(orderId: string, listener: OrderStatusListener): void {
    const set = this.listeners.get(orderId);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(orderId);
    if (this.listeners.size > 0) return;
    if (this.subscriber && this.subscribed) {
      unsubscribeFrom(this.subscriber, orderStatusChannel(this.ctx)).catch(() => undefined);
    }
    this.subscribed = undefined;
    this.idleTimer = setTimeout(() => {
      if (this.listeners.size > 0) return;
      this.subscriber?.disconnect();
      this.subscriber = undefined;
    }, IDLE_DISCONNECT_MS);
    this.idleTimer.unref();
  }

  private connection(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = createRedis(
      this.ctx.config,
      'subscriber',
      `${this.ctx.config.redisPrefix}:order-status`,
    );
    let connectedBefore = false;
    subscriber.on('ready', () => {
      // ioredis resubscribes by itself; what was published meanwhile is lost, so streams reload.
      if (connectedBefore) for (const set of this.listeners.values()) for (const listener of set) listener();
      connectedBefore = true;
    });
    onChannelMessage(subscriber, (_channel: string, message: string) => {
      for (const orderId of parseOrderStatusPing(message))
        for (const listener of this.listeners.get(orderId) ?? []) listener();
    });
    this.subscriber = subscriber;
    return subscriber;
  }
}

const hubs = new Set<OrderStatusHub>();

/** The hub of this process for this context (one per app). */
export function createOrderStatusHub(ctx: AppContext): OrderStatusHub {
  const hub = new OrderStatusHub(ctx);
  hubs.add(hub);
  return hub;
}

/** Ends every live order-status stream of this process: call before closing the HTTP server. */
export function closeOrderStatusStreams(): void {
  for (const hub of hubs) hub.close();
}
