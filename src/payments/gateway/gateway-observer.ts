import { isGatewayDeclined } from '../../errors/gateway-declined.error';
import { isGatewayTimeout } from '../../errors/gateway-timeout.error';
import { isGatewayTransient } from '../../errors/gateway-transient.error';
import type { PaymentGateway } from './payment-gateway';

export type GatewayOperation = keyof PaymentGateway;
export type GatewayOutcome = 'ok' | 'declined' | 'transient' | 'timeout' | 'error';

/** Gateway call durations are reported here (metrics hook); set by whoever wants them. */
export type GatewayLatencyObserver = (
  operation: GatewayOperation,
  outcome: GatewayOutcome,
  seconds: number,
) => void;

let observer: GatewayLatencyObserver = () => {};

export function setGatewayLatencyObserver(next: GatewayLatencyObserver): void {
  observer = next;
}

/** Records one gateway call; a failing observer never fails a payment. */
export function observeGatewayLatency(operation: GatewayOperation, outcome: GatewayOutcome, seconds: number) {
  try {
    observer(operation, outcome, seconds);
  } catch {
    // metrics are best effort
  }
}

function outcomeOf(error: unknown): GatewayOutcome {
  if (isGatewayDeclined(error)) return 'declined';
  if (isGatewayTransient(error)) return 'transient';
  if (isGatewayTimeout(error)) return 'timeout';
  return 'error';
}

/** The same gateway, with every call's duration and outcome reported to the observer. */
export function observedGateway(gateway: PaymentGateway): PaymentGateway {
  const timed =
    <A, R>(operation: GatewayOperation, call: (arg: A) => Promise<R>) =>
    async (arg: A): Promise<R> => {
      const started = performance.now();
      try {
        const result = await call(arg);
        observeGatewayLatency(operation, 'ok', (performance.now() - started) / 1000);
        return result;
      } catch (error) {
        observeGatewayLatency(operation, outcomeOf(error), (performance.now() - started) / 1000);
        throw error;
      }
    };
  return {
    capture: timed('capture', (r) => gateway.capture(r)),
    refund: timed('refund', (r) => gateway.refund(r)),
    findCapture: timed('findCapture', (id: string) => gateway.findCapture(id)),
    findRefund: timed('findRefund', (id: string) => gateway.findRefund(id)),
  };
}
