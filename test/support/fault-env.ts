/**
 * Short intervals for fault tests (the defaults are sized for production: README, "Configuration"):
 * a crashed worker's job runs again within ~3 s, a lost payment message is offered again within ~4 s,
 * an unacknowledged event is delivered again within ~1.5 s.
 */
export const FAST_RECOVERY: Record<string, string> = {
  WORKER_LOCK_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  PAYMENT_SWEEP_INTERVAL_MS: '500',
  ORDER_SWEEP_INTERVAL_MS: '1000',
  PAYMENT_GATEWAY_LATENCY_MS: '100',
  PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
  OUTBOX_ACK_DEADLINE_MS: '1000',
  REPLY_TIMEOUT_MS: '1000',
  ORDER_PAYMENT_TIMEOUT_MS: '300000',
};
