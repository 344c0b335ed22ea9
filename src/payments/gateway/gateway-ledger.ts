import type { AppContext } from '../../context';
import { type PageRequest, pageMeta, type SortRequest } from '../../paging';
import { type GatewayChargeSortField, listGatewayCharges } from './mock-gateway';

/** The mock gateway's ledger for operators (`GET /admin/gateway/charges`), newest first. */
export async function listCharges(
  ctx: AppContext,
  filter: {
    paymentId?: string | undefined;
    orderId?: string | undefined;
    sort?: SortRequest<GatewayChargeSortField> | undefined;
  } & PageRequest,
) {
  const { charges, total } = await listGatewayCharges(ctx.orm.em.fork(), filter);
  return { data: charges, meta: pageMeta(filter, total) };
}
