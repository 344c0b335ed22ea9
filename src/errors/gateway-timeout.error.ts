/**
 * The gateway did not answer within PAYMENT_GATEWAY_TIMEOUT_MS and the caller gave up. The outcome is
 * unknown: the gateway may still have acted, so the caller asks it (findCapture/findRefund) before
 * declaring a failure.
 */
export class GatewayTimeoutError extends Error {
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`The payment gateway did not answer ${operation} within ${timeoutMs} ms`);
    this.name = 'GatewayTimeoutError';
  }
}

export const isGatewayTimeout = (error: unknown): error is GatewayTimeoutError =>
  error instanceof GatewayTimeoutError;
