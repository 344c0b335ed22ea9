/** Why a gateway refused for good: retrying the same request cannot succeed. */
export type DeclineReason =
  /** The card issuer declined the charge (`tok_declined`, or a card the gateway does not know). */
  | 'CARD_DECLINED'
  /** Not enough funds on the card (`tok_insufficient`). */
  | 'INSUFFICIENT_FUNDS'
  /** A refund of a payment the gateway never captured. */
  | 'NO_CAPTURE'
  /** A refund above what is left of the capture. */
  | 'REFUND_EXCEEDS_CAPTURE';

/** The gateway answered, and the answer is no. The payment (or refund) fails with `reason`. */
export class GatewayDeclinedError extends Error {
  constructor(readonly reason: DeclineReason) {
    super(`The payment gateway declined: ${reason}`);
    this.name = 'GatewayDeclinedError';
  }
}

export const isGatewayDeclined = (error: unknown): error is GatewayDeclinedError =>
  error instanceof GatewayDeclinedError;
