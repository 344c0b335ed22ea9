/**
 * Every error code of API.md, with its HTTP status and default messages (English, Korean). A 404 is
 * NOT_FOUND or one of the four specific codes API.md allows (product, order, payment, coupon).
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: { status: 400, en: 'The request is invalid', ko: '요청 값이 올바르지 않습니다' },
  UNAUTHORIZED: { status: 401, en: 'Authentication is required', ko: '인증이 필요합니다' },
  FORBIDDEN: { status: 403, en: 'You may not do this', ko: '권한이 없습니다' },
  NOT_FOUND: { status: 404, en: 'Not found', ko: '찾을 수 없습니다' },
  PRODUCT_NOT_FOUND: { status: 404, en: 'Product not found', ko: '상품을 찾을 수 없습니다' },
  ORDER_NOT_FOUND: { status: 404, en: 'Order not found', ko: '주문을 찾을 수 없습니다' },
  PAYMENT_NOT_FOUND: { status: 404, en: 'Payment not found', ko: '결제를 찾을 수 없습니다' },
  COUPON_NOT_FOUND: { status: 404, en: 'Coupon not found', ko: '쿠폰을 찾을 수 없습니다' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    en: 'The request body is larger than 1 MiB',
    ko: '요청 본문이 1MiB를 넘습니다',
  },
  OUT_OF_STOCK: { status: 409, en: 'Not enough stock', ko: '재고가 부족합니다' },
  PRODUCT_NOT_AVAILABLE: { status: 409, en: 'The product is not on sale', ko: '판매 중인 상품이 아닙니다' },
  CART_EMPTY: { status: 400, en: 'The cart is empty', ko: '장바구니가 비어 있습니다' },
  CART_ITEM_INVALID: { status: 400, en: 'Invalid cart item', ko: '장바구니 항목이 올바르지 않습니다' },
  INVALID_ORDER_TRANSITION: {
    status: 409,
    en: 'The order cannot do this in its current state',
    ko: '현재 주문 상태에서는 처리할 수 없습니다',
  },
  ORDER_ALREADY_CANCELLED: {
    status: 400,
    en: 'The order is already cancelled',
    ko: '이미 취소된 주문입니다',
  },
  ORDER_NOT_PAYABLE: { status: 409, en: 'The order cannot be paid', ko: '결제할 수 없는 주문입니다' },
  PAYMENT_IN_PROGRESS: {
    status: 409,
    en: 'Another payment for this order is in progress',
    ko: '이 주문의 다른 결제가 진행 중입니다',
  },
  IDEMPOTENCY_KEY_REQUIRED: {
    status: 400,
    en: 'The Idempotency-Key header is required',
    ko: 'Idempotency-Key 헤더가 필요합니다',
  },
  IDEMPOTENCY_KEY_MISMATCH: {
    status: 422,
    en: 'The Idempotency-Key was used with a different request',
    ko: '같은 Idempotency-Key로 다른 요청을 보냈습니다',
  },
  REFUND_EXCEEDS_PAYMENT: {
    status: 400,
    en: 'The refund exceeds what remains of the payment',
    ko: '환불 금액이 결제 잔액을 초과합니다',
  },
  DUPLICATE_COUPON_CODE: {
    status: 409,
    en: 'The coupon code is taken',
    ko: '이미 사용 중인 쿠폰 코드입니다',
  },
  COUPON_SOLD_OUT: { status: 409, en: 'The coupons are all gone', ko: '쿠폰이 모두 소진되었습니다' },
  COUPON_ALREADY_ISSUED: { status: 409, en: 'You already have this coupon', ko: '이미 발급받은 쿠폰입니다' },
  COUPON_ALREADY_USED: { status: 400, en: 'The coupon was already used', ko: '이미 사용된 쿠폰입니다' },
  COUPON_NOT_APPLICABLE: { status: 400, en: 'The coupon cannot be applied', ko: '적용할 수 없는 쿠폰입니다' },
  INVALID_COUPON_TRANSITION: {
    status: 409,
    en: 'The coupon cannot change to that status now',
    ko: '현재 쿠폰 상태에서는 변경할 수 없습니다',
  },
  DUPLICATE_EMAIL: { status: 409, en: 'The email is already registered', ko: '이미 가입된 이메일입니다' },
  OUTBOX_EVENT_NOT_RETRYABLE: {
    status: 409,
    en: 'Only FAILED or ALERTED outbox events can be retried',
    ko: '실패했거나 경보 상태인 이벤트만 재시도할 수 있습니다',
  },
  LAST_ADMIN: {
    status: 409,
    en: 'The last ADMIN cannot be demoted',
    ko: '마지막 관리자의 권한은 변경할 수 없습니다',
  },
  RATE_LIMITED: { status: 429, en: 'Too many requests', ko: '요청이 너무 많습니다' },
  INTERNAL: { status: 500, en: 'Unexpected error', ko: '알 수 없는 오류가 발생했습니다' },
  SERVICE_UNAVAILABLE: {
    status: 503,
    en: 'The service is temporarily unavailable',
    ko: '일시적으로 서비스를 이용할 수 없습니다',
  },
} as const satisfies Record<string, { status: number; en: string; ko: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export type Language = 'en' | 'ko';
