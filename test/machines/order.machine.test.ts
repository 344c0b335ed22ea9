import { describe, expect, it } from 'vitest';
import { initialTransition } from 'xstate';
import { type OrderEvent, orderMachine } from '../../machines/order.machine';
import { orderEffects } from '../../src/orders/effects';
import { ALPHABET, type AnyOrderEvent } from './order-alphabet';
import {
  declaredEdges,
  declaredEffectNames,
  definedLeafStates,
  effectNames,
  exploreSituations,
  leafOf,
  ORDER_INPUT,
  type Situation,
  step,
  takenDefinition,
  timersOf,
} from './order-graph';
import {
  type EventFacts,
  expectedTimers,
  LEAF_STATES,
  ORDER_SPEC,
  PLACEMENT,
  type SpecEdge,
  specEdgesFor,
} from './order-spec';

const situations = exploreSituations();

/** Every (situation, event variant) the generated tests try, with the spec rows that apply. */
const cases = situations.flatMap((situation) =>
  ALPHABET.filter((variant) => variant.applies?.(situation.snapshot.context) ?? true).map((variant) => {
    const event = variant.make(situation.snapshot.context);
    const rows = specEdgesFor(situation.state, situation.snapshot.context, event as EventFacts);
    return { situation, variant, event, rows, edge: rows.find((r) => r.to !== 'rejected') };
  }),
);

const definitions = [...new Set(declaredEdges().map((edge) => edge.definition))];
const declaredIndex = (definition: unknown) =>
  definitions.indexOf(definition as (typeof definitions)[number]);

const sorted = (names: readonly string[]) => [...names].sort();
const outcome = (edge: SpecEdge | undefined) =>
  edge ? [edge.to, ...(edge.effects ?? [])].join(', ') : 'rejected';

describe('the machine definition, walked as a graph', () => {
  it('has exactly the leaf states of SPEC §3', () => {
    expect(sorted(definedLeafStates())).toEqual(sorted(LEAF_STATES));
  });

  it('a BFS from placement over the event alphabet reaches every leaf state', () => {
    expect(sorted([...new Set(situations.map((s) => s.state))])).toEqual(sorted(definedLeafStates()));
  });

  it('every (state, event) pair the definition declares has a row in the spec', () => {
    const specPairs = new Set(ORDER_SPEC.map((row) => `${row.from} + ${row.event}`));
    const missing = declaredEdges().filter((edge) => !specPairs.has(`${edge.from} + ${edge.eventType}`));
    expect(missing.map((e) => `${e.from} + ${e.eventType} [${e.guard}] → ${e.to}`)).toEqual([]);
  });

  it('every (state, event) pair the spec accepts is declared by the definition', () => {
    const declared = new Set(declaredEdges().map((edge) => `${edge.from} + ${edge.eventType} → ${edge.to}`));
    const undeclared = ORDER_SPEC.filter((row) => row.to !== 'rejected').filter(
      (row) => !declared.has(`${row.from} + ${row.event} → ${row.to}`),
    );
    expect(undeclared.map((row) => `${row.from} + ${row.event} → ${row.to}`)).toEqual([]);
  });

  it('every transition the definition declares is taken from its state in a case the spec accepts', () => {
    const taken = new Set(
      cases
        .filter((c) => c.edge)
        .map((c) => `${c.situation.state} ${declaredIndex(takenDefinition(c.situation.snapshot, c.event))}`),
    );
    // A declared transition may stay dead in one state only where the spec rejects its event there.
    const deadByDesign = (from: string, eventType: string) =>
      ORDER_SPEC.filter((row) => row.from === from && row.event === eventType).every(
        (row) => row.to === 'rejected',
      );
    const untaken = declaredEdges().filter(
      (edge) =>
        !taken.has(`${edge.from} ${declaredIndex(edge.definition)}`) &&
        !deadByDesign(edge.from, edge.eventType),
    );
    expect(untaken.map((e) => `${e.from} + ${e.eventType} [${e.guard}, from ${e.source}] → ${e.to}`)).toEqual(
      [],
    );
  });

  it('every spec row applies in some generated case, and no case matches two rows', () => {
    const used = new Set(cases.flatMap((c) => c.rows));
    const unused = ORDER_SPEC.filter((row) => !used.has(row));
    expect(unused.map((row) => `${row.from} + ${row.event} ${row.when?.says ?? ''}`)).toEqual([]);
    const ambiguous = cases.filter((c) => c.rows.length > 1);
    expect(ambiguous.map((c) => `${c.situation.label} + ${c.variant.name}`)).toEqual([]);
  });

  it('names the same effects as the spec, and the worker implements every one', () => {
    const specEffects = new Set(
      [...PLACEMENT.effects, ...ORDER_SPEC.flatMap((row) => row.effects ?? [])].map((e) =>
        e.replace(/\(.*/, ''),
      ),
    );
    expect(declaredEffectNames()).toEqual(sorted([...specEffects]));
    expect(declaredEffectNames().filter((name) => !(name in orderEffects))).toEqual([]);
  });
});

describe('placement', () => {
  it('PLACE → PENDING.awaitingPayment, reserveStock, holdCoupon, emit(ORDER_CREATED), payment window started', () => {
    const [snapshot, actions] = initialTransition(orderMachine, ORDER_INPUT);
    expect(leafOf(snapshot)).toBe(PLACEMENT.to);
    expect(effectNames(actions)).toEqual(sorted(PLACEMENT.effects));
    expect(timersOf(actions)).toEqual(expectedTimers(null, PLACEMENT.to, snapshot.context));
    expect(snapshot.context).toEqual({
      ...ORDER_INPUT,
      expiresAt: ORDER_INPUT.placedAt + ORDER_INPUT.paymentTimeoutMs,
      paymentId: null,
      refundedAmount: 0,
      pendingRefundAmount: 0,
      cancelReason: null,
      paidAt: null,
      confirmedAt: null,
      cancelledAt: null,
    });
  });
});

const reachedBy = (s: Situation) => (s.path.length ? `after ${s.path.join(' → ')}` : 'as placed');

for (const state of LEAF_STATES) {
  describe(state, () => {
    for (const situation of situations.filter((s) => s.state === state)) {
      describe(`${situation.label}, ${reachedBy(situation)}`, () => {
        for (const { variant, event, rows, edge } of cases.filter((c) => c.situation === situation)) {
          it(`+ ${variant.name} → ${outcome(edge)}`, () => {
            expect(rows.length).toBeLessThanOrEqual(1);
            if (edge) expectEdge(situation, event, edge);
            else expectRejected(situation, event);
          });
        }
      });
    }
  });
}

function expectEdge(situation: Situation, event: AnyOrderEvent, edge: SpecEdge) {
  const before = situation.snapshot;
  expect(before.can(event as OrderEvent)).toBe(true);
  const [next, actions] = step(before, event);
  expect(leafOf(next)).toBe(edge.to);
  expect(effectNames(actions)).toEqual(sorted(edge.effects ?? []));
  expect(timersOf(actions)).toEqual(expectedTimers(situation.state, edge.to, next.context));
  expect(next.context).toEqual({ ...before.context, ...edge.context?.(before.context, event as EventFacts) });
}

function expectRejected(situation: Situation, event: AnyOrderEvent) {
  const before = situation.snapshot;
  expect(before.can(event as OrderEvent)).toBe(false);
  const [next, actions] = step(before, event);
  expect(next.value).toEqual(before.value);
  expect(next.context).toEqual(before.context);
  expect(actions).toEqual([]);
}
