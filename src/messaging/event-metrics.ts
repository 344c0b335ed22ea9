import { Counter, Histogram, type Metric, register } from 'prom-client';

/**
 * Prometheus metrics of the event pipeline, in prom-client's default registry (whoever serves
 * /metrics exposes them). Each process counts what it did itself.
 */
function metric<T extends Metric>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

/** Event lag per consumer: the event's commit (occurredAt) → that consumer applied it. */
export const eventConsumerLagSeconds = metric(
  'shop_event_consumer_lag_seconds',
  () =>
    new Histogram({
      name: 'shop_event_consumer_lag_seconds',
      help: 'Seconds from an event being committed to the outbox until a consumer applied it',
      labelNames: ['consumer'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    }),
);

export const outboxAlertedTotal = metric(
  'shop_outbox_alerted_total',
  () =>
    new Counter({
      name: 'shop_outbox_alerted_total',
      help: 'Outbox rows that exhausted OUTBOX_MAX_ATTEMPTS and were ALERTED',
      labelNames: ['queue'],
    }),
);

export const webhookAttemptsTotal = metric(
  'shop_webhook_attempts_total',
  () =>
    new Counter({
      name: 'shop_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (DELIVERED, RETRYING, ALERTED, ABANDONED)',
      labelNames: ['outcome'],
    }),
);

export function observeOutboxLag(consumer: string, occurredAt: string, now = Date.now()): void {
  const committed = Date.parse(occurredAt);
  if (Number.isFinite(committed))
    eventConsumerLagSeconds.observe({ consumer }, Math.max(0, now - committed) / 1000);
}
