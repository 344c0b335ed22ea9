import type { AppContext } from '../../context';
import { perContext } from '../../per-context';
import { observedGateway } from './gateway-observer';
import { MockGateway } from './mock-gateway';
import type { PaymentGateway } from './payment-gateway';

export type { CaptureRequest, GatewayChargeRecord, PaymentGateway, RefundRequest } from './payment-gateway';

/**
 * The process's payment gateway, with its calls observed. The one place a real PG adapter would be
 * chosen instead of the mock.
 */
export const paymentGateway = perContext(
  (ctx: AppContext): PaymentGateway =>
    observedGateway(
      new MockGateway(() => ctx.orm.em.fork(), {
        latencyMs: ctx.config.gatewayLatencyMs,
        timeoutMs: ctx.config.gatewayTimeoutMs,
        lenient: ctx.config.mockGatewayMode === 'lenient',
      }),
    ),
);
