import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createProduct } from '../support/catalog';
import { createCoupon } from '../support/coupons';
import { eventsSettled, startReceiver, type WebhookReceiver } from '../support/events';
import { placeOrder } from '../support/orders';
import { createTestShop, type TestShop } from '../support/test-shop';
import { eventually } from '../support/worker-process';

const ROOT = join(import.meta.dirname, '../..');
/** Counters that only move on an incident: exported (with HELP and TYPE) but with no sample after a clean checkout. */
const INCIDENT_ONLY = new Set(['shop_outbox_alerted_total']);
/** Labels Prometheus itself attaches to every scraped series, and the histogram bucket label. */
const SCRAPE_LABELS = new Set(['instance', 'job', 'le']);

interface Query {
  source: string;
  expr: string;
}

function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'ops/grafana/dashboards/shop.json'), 'utf8'));
  return dashboard.panels.flatMap((panel: { title: string; targets?: { expr: string }[] }) =>
    (panel.targets ?? []).map((t) => ({ source: `dashboard panel "${panel.title}"`, expr: t.expr })),
  );
}

function alertQueries(): Query[] {
  const rules = parse(readFileSync(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8'));
  return rules.groups.flatMap((group: { rules: { alert: string; expr: string }[] }) =>
    group.rules.map((rule) => ({ source: `alert ${rule.alert}`, expr: String(rule.expr) })),
  );
}

/** Metric families in the exposition text: TYPE, and the label names their samples carry. */
function families(text: string) {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  const sampled = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const family = familyOf(sample[1]!, types);
    sampled.add(family);
    const names = labels.get(family) ?? new Set<string>();
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="/g)) names.add(m[1]!);
    labels.set(family, names);
  }
  return { types, labels, sampled };
}

function familyOf(name: string, types: Map<string, string>): string {
  const base = name.replace(/_(bucket|count|sum)$/, '');
  return base !== name && types.get(base) === 'histogram' ? base : name;
}

/** The metric names an expression reads, and every label it selects on or groups by. */
function readsOf(expr: string) {
  const metrics = [...expr.matchAll(/\b(shop_\w+)/g)].map((m) => m[1]!);
  const selected = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
    [...m[1]!.matchAll(/(\w+)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!),
  );
  const grouped = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean),
  );
  return { metrics, labels: [...selected, ...grouped] };
}

/** How many syntax errors the PromQL grammar finds in an expression. */
function promqlErrors(expr: string): number {
  let errors = 0;
  promql.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors += 1;
    },
  });
  return errors;
}

let shop: TestShop;
let receiver: WebhookReceiver;
beforeAll(async () => {
  shop = await createTestShop({ WORKERS: 'all', PAYMENT_GATEWAY_LATENCY_MS: '5' });
  receiver = await startReceiver();
});
afterAll(async () => {
  await shop?.close();
  await receiver?.close();
});

describe('ops/: the Grafana dashboard and the Prometheus alerts read metrics the shop exports', () => {
  it('finds every metric and label they name in /metrics after a checkout with a webhook', async () => {
    const [admin, seller, buyer] = await Promise.all([
      shop.createUser('ADMIN'),
      shop.createUser('SELLER'),
      shop.createUser('BUYER'),
    ]);
    const hook = await shop.request('POST', '/api/v1/admin/webhooks', {
      token: admin.token,
      body: { url: receiver.url, events: ['ORDER_PAID'], secret: 'whsec-0123456789abcdef' },
    });
    expect(hook.status).toBe(201);
    await createCoupon(shop, seller);
    const productId = await createProduct(shop, seller, { price: 7000 });
    const order = await placeOrder(shop, buyer, [{ productId, quantity: 1 }]);
    const paid = await shop.request('POST', '/api/v1/payments', {
      token: buyer.token,
      headers: { 'idempotency-key': `ops-${order.id}` },
      body: { orderId: order.id, method: 'CARD', cardToken: 'tok_ok' },
    });
    expect(paid.status).toBe(202);
    await eventually(async () => receiver.received.length >= 1);
    await eventsSettled(shop);
    const text = (await shop.request('GET', '/metrics')).body as string;
    const exported = families(text);

    const queries = [...dashboardQueries(), ...alertQueries()];
    expect(queries.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const { source, expr } of queries) {
      const { metrics, labels } = readsOf(expr);
      if (metrics.length === 0) problems.push(`${source}: reads no shop_ metric: ${expr}`);
      const carried = new Set<string>();
      for (const name of metrics) {
        const family = familyOf(name, exported.types);
        if (!exported.types.has(family)) problems.push(`${source}: ${name} is not exported`);
        else if (!exported.sampled.has(family) && !INCIDENT_ONLY.has(family))
          problems.push(`${source}: ${name} has no sample after a checkout`);
        for (const label of exported.labels.get(family) ?? []) carried.add(label);
      }
      for (const label of labels) {
        if (!SCRAPE_LABELS.has(label) && !carried.has(label) && metrics.every((m) => !INCIDENT_ONLY.has(m)))
          problems.push(`${source}: label "${label}" is on none of ${metrics.join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("writes every query in valid PromQL (the Prometheus project's own grammar)", () => {
    const invalid = [...dashboardQueries(), ...alertQueries()].filter(({ expr }) => promqlErrors(expr) > 0);
    expect(invalid).toEqual([]);
    // The grammar does refuse a broken query (so the check above can fail).
    expect(promqlErrors('sum(rate(shop_orders[5m])')).toBeGreaterThan(0);
  });

  it('gives every dashboard panel the templated Prometheus data source and every alert a severity and summary', () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'ops/grafana/dashboards/shop.json'), 'utf8'));
    for (const panel of dashboard.panels.filter((p: { type: string }) => p.type !== 'row')) {
      // Grafana's own variable syntax, not a template literal: the dashboard asks for a data source on import.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    }
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const rules = parse(readFileSync(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8'));
    for (const rule of rules.groups.flatMap((g: { rules: unknown[] }) => g.rules)) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
    }
  });
});
