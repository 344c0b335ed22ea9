/** The gateway failed in a way that may pass (a 5xx, a dropped connection): the call is retried later. */
export class GatewayTransientError extends Error {
  constructor(message = 'The payment gateway failed temporarily') {
    super(message);
    this.name = 'GatewayTransientError';
  }
}

export const isGatewayTransient = (error: unknown): error is GatewayTransientError =>
  error instanceof GatewayTransientError;
