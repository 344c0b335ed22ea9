import type { Job } from 'bullmq';
import type { AppContext } from '../context';
import type { Logger } from '../logger';
import { ORDER_TIMERS, type OrderTimerName } from './commit-transition';
import { applyOrderNotice } from './order-actor';
import { dueOrders } from './order-sweep';

const PAGE = 500;
/** Orders of one bucket stepped side by side. */
const LANES = 8;

/**
 * A time bucket of order timers came due (`expire-at-{second}`, `confirm-at-m{minute}`; see
 * commit-transition.ts): every order whose timer is due by now gets EXPIRE or AUTO_CONFIRM, found
 * through PostgreSQL, the truth, not through Redis. The machine's guards decide: an order paid or
 * cancelled meanwhile ignores it. The notice's id is the bucket's job id and the order's, so a retried
 * bucket applies nothing twice, and a later bucket or the sweeper may still offer it again.
 */
export async function fireDueTimers(ctx: AppContext, job: Job, timer: OrderTimerName, log: Logger) {
  const type = ORDER_TIMERS[timer].eventName;
  let applied = 0;
  let after = '';
  for (;;) {
    const due = await dueOrders(ctx.orm.em.fork(), timer, PAGE, after);
    const ids = due.map((d) => d.id);
    const lane = async () => {
      for (let id = ids.shift(); id; id = ids.shift()) {
        const outcome = await applyOrderNotice(ctx, { orderId: id, event: { type } }, `${job.id}-${id}`, log);
        if (outcome === 'applied') applied++;
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    if (due.length < PAGE) break;
    after = due[due.length - 1]!.id;
  }
  if (applied > 0) log.debug({ timer, applied }, 'timer bucket applied');
}
