import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixtureProduct, payFixtureOrder, placeFixtureOrder } from '../support/order-fixtures';
import { createTestShop, type TestShop, type TestUser } from '../support/test-shop';

/** Debian's chromium package (`apt-get install chromium`); no browser is downloaded. */
const CHROMIUM = '/usr/bin/chromium';
// Every run saves its screenshots under test/artifacts (ignored by git); UPDATE_SCREENSHOTS=1 refreshes
// the ones the README shows, in docs/screenshots.
const SCREENSHOTS = join(
  import.meta.dirname,
  process.env.UPDATE_SCREENSHOTS === '1' ? '../../docs/screenshots' : '../artifacts/screenshots',
);
const hasChromium = existsSync(CHROMIUM);
/** In CI a missing browser is a failure, never a skip: `.ci/run` installs it. */
const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (!hasChromium && !inCi)
  console.warn(`Skipping the browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.runIf(inCi)('the browser test in CI', () => {
  it(`has Chromium at ${CHROMIUM}`, () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  });
});

let shop: TestShop;
let server: ServerType;
let origin: string;
let browser: Browser;
let admin: TestUser;
let orderId: string;

beforeAll(async () => {
  if (!hasChromium) return;
  shop = await createTestShop();
  admin = await shop.createUser('ADMIN');
  const buyer = await shop.createUser('BUYER');
  const product = await createFixtureProduct(shop, await shop.createUser('SELLER'));
  orderId = await placeFixtureOrder(shop, buyer, product, 2);
  await payFixtureOrder(shop, buyer, orderId);
  await placeFixtureOrder(shop, buyer, product);
  // Something for the board to show: a payment-window timeout waiting in the order mailbox.
  await shop.ctx.queues.orderShards[0]!.add(
    'NOTICE',
    { orderId },
    { delay: 900_000, jobId: `expire-${orderId}` },
  );

  server = serve({ fetch: shop.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await shop?.close();
});

async function openPage(path: string, credentials?: { username: string; password: string }) {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    ...(credentials ? { httpCredentials: credentials } : {}),
  });
  // Every request the page (or a worker of it) makes, wherever it goes.
  const requested: string[] = [];
  context.on('request', (request) => requested.push(request.url()));
  // Offline: whatever a page asks of any other host is refused, and recorded.
  const external: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  // What the page's Content-Security-Policy blocked (the page must work under it, offline).
  const blocked: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/.test(message.text()))
      blocked.push(message.text());
  });
  const response = await page.goto(`${origin}${path}`, { waitUntil: 'domcontentloaded' });
  const csp = response?.headers()['content-security-policy'];
  return { context, page, errors, external, requested, blocked, csp, status: response?.status() };
}

describe.skipIf(!hasChromium)('operator pages render in a real browser', () => {
  it('/docs renders the API reference from /openapi.json, offline', async () => {
    const { context, page, status, errors, external, blocked, csp } = await openPage('/docs');
    expect(status).toBe(200);
    expect(csp).toMatch(/script-src 'self' 'nonce-/);
    await page.getByRole('heading', { name: 'Shop backend API' }).first().waitFor({ timeout: 20_000 });
    for (const tag of ['Auth', 'Catalog', 'Machines', 'Operations']) {
      await page.getByText(tag, { exact: true }).first().waitFor({ timeout: 5000 });
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'docs.png') });
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    expect(external).toEqual([]);
    await context.close();
  });

  it('/docs reaches nothing outside the shop: every request goes to its origin, no link leads elsewhere', async () => {
    const { context, page, errors, requested, blocked } = await openPage('/docs');
    await page.getByRole('heading', { name: 'Shop backend API' }).first().waitFor({ timeout: 20_000 });
    // Use it as a reader would: open an operation and send it from the built-in request client.
    await page.locator('button', { hasText: 'Open Group - Operations' }).first().click({ timeout: 10_000 });
    await page.getByText('Liveness: the process answers', { exact: true }).first().click({ timeout: 10_000 });
    await page
      .locator('button', { hasText: 'Test Request(get /health/live)' })
      .first()
      .click({ timeout: 10_000 });
    const sent = page.waitForResponse((res) => res.url() === `${origin}/health/live`, { timeout: 20_000 });
    await page
      .locator('button', { hasText: 'Send get request to /health/live' })
      .first()
      .click({ timeout: 10_000 });
    expect((await sent).status()).toBe(200);
    await page.waitForLoadState('networkidle');

    const elsewhere = requested.filter(
      (url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:'),
    );
    expect(elsewhere).toEqual([]);
    expect(requested).toEqual(
      expect.arrayContaining([`${origin}/docs`, `${origin}/docs/scalar.js`, `${origin}/openapi.json`]),
    );
    // No visible link that can be followed to another site, no button to a hosted service (Scalar's MCP
    // generator, its hosted client, "Powered by").
    const links = await page.$$eval('a[href]', (anchors) => {
      // Runs in the page (this project compiles without the DOM library).
      const window = globalThis as unknown as {
        getComputedStyle: (element: unknown) => { pointerEvents: string };
        document: { baseURI: string };
      };
      return anchors
        .filter((a) => a.getClientRects().length > 0 && window.getComputedStyle(a).pointerEvents !== 'none')
        .map((a) => ({
          text: a.textContent?.trim(),
          href: new URL(a.getAttribute('href')!, window.document.baseURI).href,
        }));
    });
    // A blob: link (download the response body) holds data already in the page.
    const leavesShop = (href: string) =>
      !href.startsWith(`${origin}/`) && !href.startsWith(`blob:${origin}/`);
    expect(links.filter((link) => leavesShop(link.href))).toEqual([]);
    await expect(page.getByText('Generate MCP').count()).resolves.toBe(0);
    await expect(
      page
        .getByText(/Powered by/i)
        .filter({ visible: true })
        .count(),
    ).resolves.toBe(0);
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    await context.close();
  }, 60_000);

  it('/admin/queues shows Bull Board with every queue after Basic auth', async () => {
    const { context, page, status, errors, external, blocked, csp } = await openPage('/admin/queues', {
      username: admin.email,
      password: 'password123',
    });
    expect(status).toBe(200);
    for (const queue of ['order', 'payment', 'inventory', 'coupon', 'events', 'webhooks']) {
      await page.getByRole('link', { name: queue, exact: true }).first().waitFor({ timeout: 20_000 });
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'bull-board.png') });
    expect(errors).toEqual([]);
    // The board's stylesheet asks Google Fonts for IBM Plex; refused, it falls back to system fonts.
    expect(external.filter((url) => !url.startsWith('https://fonts.googleapis.com/'))).toEqual([]);
    expect(csp).toMatch(/default-src 'self'/);
    expect(blocked.filter((text) => !text.includes('https://fonts.googleapis.com/'))).toEqual([]);
    await context.close();
  });

  it("/machines/order?orderId= draws the machine and highlights the order's current state", async () => {
    const { context, page, status, errors, external, blocked, csp } = await openPage(
      `/machines/order?orderId=${orderId}`,
      { username: admin.email, password: 'password123' },
    );
    expect(status).toBe(200);
    expect(csp).toMatch(/script-src 'self' 'nonce-/);
    await page.locator('body[data-rendered]').waitFor({ timeout: 20_000 });
    expect(await page.locator('body').getAttribute('data-rendered')).toBe('true');
    // mermaid applied the generated `class PAID__active current` to the drawn node.
    const current = page.locator('#diagram svg g.current');
    await expect(current.count()).resolves.toBe(1);
    await expect(current.getAttribute('data-current-state')).resolves.toBe('true');
    await expect(current.textContent()).resolves.toContain('active');
    await expect(page.locator('#diagram svg g.visited').count()).resolves.toBe(2);
    await expect(page.locator('#path').textContent()).resolves.toBe(
      'PENDING.awaitingPayment → PENDING.paying → PAID.active',
    );
    // The order and its diagram; the tables below them are left out of the picture.
    const diagram = (await page.locator('#diagram').boundingBox())!;
    await page.screenshot({
      path: join(SCREENSHOTS, 'order-machine.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1440, height: Math.ceil(diagram.y + diagram.height + 24) },
    });
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    expect(blocked).toEqual([]);
    await context.close();
  });
});
