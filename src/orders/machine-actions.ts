import type { EventObject } from 'xstate';
import {
  ORDER_EFFECT_NAMES,
  type OrderEffectName,
  type OrderEffectParams,
} from '../../machines/order.machine';

/** A named effect the machine asked for, with its parameters (xstate action objects carry both). */
export type EffectRequest = {
  [K in OrderEffectName]: { type: K; params: OrderEffectParams[K] };
}[OrderEffectName];

const isEffectName = (type: string): type is OrderEffectName =>
  (ORDER_EFFECT_NAMES as readonly string[]).includes(type);

/** A timeout the machine started (`after`) or abandoned by leaving its state. */
export type Timer =
  | { kind: 'schedule'; delayName: string; event: EventObject; delayMs: number }
  | { kind: 'cancel'; delayName: string };

interface ExecutableAction {
  type: string;
  params?: unknown;
}

const AFTER_EVENT = /^xstate\.after\.([^.]+)\./;

/** Names the delay of an `after` event id: `xstate.after.paymentWindow.order.PENDING…` → paymentWindow. */
export function delayNameOf(afterEventId: string): string {
  const name = AFTER_EVENT.exec(afterEventId)?.[1];
  if (!name) throw new Error(`Not a delayed transition event: ${afterEventId}`);
  return name;
}

/**
 * Splits what `transition()` returned into effects for the worker to carry out and timers to turn
 * into delayed jobs. Built-in actions other than delayed raise/cancel are already applied by
 * transition() itself (assign) and need nothing.
 */
export function interpretActions(actions: readonly ExecutableAction[]): {
  effects: EffectRequest[];
  timers: Timer[];
} {
  const effects: EffectRequest[] = [];
  const timers: Timer[] = [];
  for (const action of actions) {
    if (action.type === 'xstate.raise') {
      const params = action.params as { event: EventObject; delay?: number; id?: string };
      if (params.delay === undefined)
        throw new Error(`Immediate raise of ${params.event.type} is not supported`);
      timers.push({
        kind: 'schedule',
        delayName: delayNameOf(params.event.type),
        event: params.event,
        delayMs: params.delay,
      });
    } else if (action.type === 'xstate.cancel') {
      timers.push({ kind: 'cancel', delayName: delayNameOf((action.params as { sendId: string }).sendId) });
    } else if (isEffectName(action.type)) {
      // The machine declared this action with these parameters (OrderEffectParams); xstate's action
      // objects do not carry that type, so it is restored here.
      effects.push({ type: action.type, params: action.params } as EffectRequest);
    } else if (!action.type.startsWith('xstate.')) {
      throw new Error(`The order machine asked for '${action.type}', which no effect implements`);
    }
  }
  return { effects, timers };
}
