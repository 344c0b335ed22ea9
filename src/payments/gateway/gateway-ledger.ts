import type { AppContext } from '../../context';
import { pageMeta } from '../../paging';
import { listGatewayCharges } from './mock-gateway';

/** The mock gateway's ledger for operators (`GET /admin/gateway/charges`), newest first. */
export async function listCharges(
  ctx: AppContext,
  filter: { paymentId?: string | undefined; orderId?: string | undefined; page: number; size: number },
) {
  const { charges, total } = await listGatewayCharges(ctx.orm.em.fork(), filter);
  return { data: charges, meta: pageMeta(filter, total) };
}
