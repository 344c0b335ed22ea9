import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderMachine } from '../../machines/order.machine';
import { inspectOrder } from '../../src/orders/order-inspection';
import { machineGraph } from '../../src/statecharts/machine-graph';
import {
  createFixtureProduct,
  type FixtureProduct,
  payFixtureOrder,
  placeFixtureOrder,
  stepFixtureOrder,
} from '../support/order-fixtures';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

let shop: TestShop;
let buyer: TestUser;
let product: FixtureProduct;
beforeAll(async () => {
  shop = await createTestShop();
  buyer = await shop.createUser('BUYER');
  product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
});
afterAll(() => shop?.close());

describe('the machine graph is read from the machine object', () => {
  const graph = machineGraph(orderMachine);

  it('lists every state node as a dotted path, with the initial leaf', () => {
    const stateKeys = (node: typeof orderMachine.root): string[] =>
      Object.values(node.states).flatMap((child) => [child.path.join('.'), ...stateKeys(child)]);
    expect(graph.states.map((s) => s.path)).toEqual(stateKeys(orderMachine.root));
    expect(graph.states.map((s) => s.path)).toContain('PENDING.awaitingPayment');
    expect(graph.initial).toBe('PENDING.awaitingPayment');
  });

  it('has one transition per candidate of every state, with its event, guard and targets', () => {
    let candidates = 0;
    const walk = (node: typeof orderMachine.root) => {
      for (const list of node.transitions.values()) candidates += list.length;
      for (const child of Object.values(node.states)) walk(child);
    };
    walk(orderMachine.root);
    expect(graph.transitions).toHaveLength(candidates);
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({
        source: 'PENDING.awaitingPayment',
        event: 'PAY',
        guard: 'isWithinPaymentWindow',
        targets: ['PENDING.paying'],
      }),
    );
  });

  it('spells out higher-order guards and names `after` delays by their setup() names', () => {
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({ source: 'PAID', delay: 'autoConfirmDelay', guard: 'stateIn(PAID.active)' }),
    );
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({ source: 'CONFIRMED', guard: 'and(completesFullRefund, wantsRestock)' }),
    );
    expect(graph.delays.map((d) => d.name).sort()).toEqual(
      Object.keys(orderMachine.implementations.delays).sort(),
    );
    // toContainEqual (not toContain) applies the matcher: the list has events, none of them internal.
    expect(graph.events).toContain('PAY');
    expect(graph.events).not.toContainEqual(expect.stringMatching(/^xstate\./));
  });

  it('lists the named guards and actions of setup(), and actions with their parameters', () => {
    expect(graph.guards).toEqual(Object.keys(orderMachine.implementations.guards));
    expect(graph.actions).toEqual(Object.keys(orderMachine.implementations.actions));
    const pending = graph.states.find((s) => s.path === 'PENDING')!;
    expect(pending.entry).toEqual(['reserveStock', 'holdCoupon', 'emit(ORDER_CREATED)']);
  });
});

describe('GET /api/v1/machines', () => {
  it('lists the order machine with its states and events', async () => {
    const res = await shop.request('GET', '/api/v1/machines');
    expect(res.status).toBe(200);
    const order = res.body.data.find((m: { name: string }) => m.name === 'order');
    expect(order.states).toEqual(machineGraph(orderMachine).states.map((s) => s.path));
    expect(order.events).toEqual(expect.arrayContaining(['PAY', 'CANCEL', 'CONFIRM', 'REFUND', 'EXPIRE']));
  });

  it('describes one machine: version, definition (toJSON) and a mermaid diagram of every state', async () => {
    const res = await shop.request('GET', '/api/v1/machines/order');
    expect(res.status).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({ name: 'order', version: 1, initial: 'PENDING.awaitingPayment' });
    expect(data.definition).toEqual(JSON.parse(JSON.stringify(orderMachine.toJSON())));
    expect(data.mermaid).toMatch(/^stateDiagram-v2/);
    for (const state of data.stateNodes)
      expect(data.mermaid).toContain(`"${state.key}" as ${state.path.replaceAll('.', '__')}`);
    expect(data.mermaid).toContain(
      'PENDING__awaitingPayment --> CANCELLED: EXPIRE [hasPaymentWindowPassed]<br/>',
    );
    expect(data.mermaid).toContain('after paymentWindow');
  });

  it('answers 404 for an unknown machine and 400 for a malformed name', async () => {
    const unknown = await shop.request('GET', '/api/v1/machines/payment');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('NOT_FOUND');
    const bad = await shop.request('GET', '/api/v1/machines/Bad%20Name');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('VALIDATION_ERROR');
  });
});

describe('inspectOrder reads the live machine of an order and its history', () => {
  it('shows a new order awaiting payment, what it accepts, and its placement', async () => {
    const orderId = await placeFixtureOrder(shop, buyer, product);
    const inspection = await inspectOrder(shop.ctx.orm.em.fork(), orderId);
    expect(inspection).toMatchObject({
      orderId,
      userId: buyer.id,
      status: 'PENDING',
      state: 'PENDING.awaitingPayment',
      value: { PENDING: 'awaitingPayment' },
      allowedEvents: ['PAY', 'CANCEL'],
    });
    expect(inspection!.handledEvents).toEqual(expect.arrayContaining(['PAY', 'CANCEL', 'EXPIRE']));
    expect(inspection!.context).toMatchObject({ orderId, total: product.price });
    expect(inspection!.history).toEqual([
      expect.objectContaining({
        fromStatus: null,
        toStatus: 'PENDING',
        from: null,
        to: 'PENDING.awaitingPayment',
        event: 'PLACE',
      }),
    ]);
  });

  it('follows a paid order through every step, oldest first', async () => {
    const orderId = await placeFixtureOrder(shop, buyer, product);
    await payFixtureOrder(shop, buyer, orderId);
    const inspection = await inspectOrder(shop.ctx.orm.em.fork(), orderId);
    expect(inspection!.state).toBe('PAID.active');
    expect(inspection!.history.map((t) => [t.from, t.event, t.to])).toEqual([
      [null, 'PLACE', 'PENDING.awaitingPayment'],
      ['PENDING.awaitingPayment', 'PAY', 'PENDING.paying'],
      ['PENDING.paying', 'PAYMENT_SUCCEEDED', 'PAID.active'],
    ]);
    expect(inspection!.allowedEvents).toEqual(expect.arrayContaining(['CANCEL', 'CONFIRM', 'REFUND']));
  });

  it('shows a cancelled order accepting no command, and nothing for an unknown id', async () => {
    const orderId = await placeFixtureOrder(shop, buyer, product);
    await stepFixtureOrder(shop, orderId, { type: 'CANCEL' });
    const inspection = await inspectOrder(shop.ctx.orm.em.fork(), orderId);
    expect(inspection).toMatchObject({ status: 'CANCELLED', state: 'CANCELLED', allowedEvents: [] });
    expect(inspection!.history.at(-1)).toMatchObject({
      fromStatus: 'PENDING',
      toStatus: 'CANCELLED',
      event: 'CANCEL',
    });
    expect(await inspectOrder(shop.ctx.orm.em.fork(), crypto.randomUUID())).toBeUndefined();
  });
});
