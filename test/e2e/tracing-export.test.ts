import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, databaseUrl, dropTestDatabase } from '../support/databases';
import { freeListeningPort } from '../support/ports';
import { TEST_REDIS_URL } from '../support/test-shop';
import { eventually } from '../support/worker-process';

const ROOT = join(import.meta.dirname, '../..');

interface ExportedSpan {
  service: string;
  scope: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** An OTLP/HTTP (JSON) collector on a local port: what Jaeger or Tempo would receive. */
function startCollector(): Promise<{ server: Server; url: string; spans: ExportedSpan[]; paths: string[] }> {
  const spans: ExportedSpan[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      paths.push(req.url ?? '');
      if (req.url === '/v1/traces') {
        for (const resourceSpans of JSON.parse(body).resourceSpans ?? []) {
          const service = resourceSpans.resource.attributes.find(
            (a: { key: string }) => a.key === 'service.name',
          )?.value.stringValue;
          for (const scopeSpans of resourceSpans.scopeSpans)
            for (const span of scopeSpans.spans)
              spans.push({ service, scope: scopeSpans.scope.name, ...span });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, paths }),
    ),
  );
}

let collector: Awaited<ReturnType<typeof startCollector>>;
let databaseName: string;
let child: ChildProcess | undefined;
const prefix = `t${process.pid}otel${Math.random().toString(36).slice(2, 6)}`;

beforeAll(async () => {
  collector = await startCollector();
  databaseName = await createTestDatabase(inject('templateDatabase'));
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await new Promise((resolve) => collector?.server.close(resolve));
  if (databaseName) await dropTestDatabase(databaseName);
  const redis = new Redis(TEST_REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
});

describe('npm start with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  it('exports its spans over OTLP, PostgreSQL statements and Redis commands included, and logs their trace ids', async () => {
    const port = await freeListeningPort();
    // What `npm start` runs: the preload starts the SDK before the shop's modules load pg and ioredis.
    child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', './src/tracing/preload.ts', 'src/server.ts'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'test',
          PORT: String(port),
          DATABASE_URL: databaseUrl(databaseName),
          REDIS_URL: TEST_REDIS_URL,
          REDIS_PREFIX: prefix,
          SEED_DEMO: 'false',
          PASSWORD_HASH_MEMORY_KIB: '1024',
          LOG_LEVEL: 'info',
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_SERVICE_NAME: 'shop-export-test',
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    await eventually(async () => {
      if (child!.exitCode !== null) throw new Error(`the shop exited:\n${output}`);
      // The workers run in a process of their own (WORKER_PROCESSES): their spans too are awaited.
      return output.includes('shop is listening') && output.includes('workers running');
    }, 30_000);

    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@shop.local', password: 'admin-password' }),
    });
    expect(login.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const { spans, paths } = collector;
    // Traces only: metrics stay Prometheus's and logs pino's (no OTLP metrics or logs by default).
    expect(new Set(paths)).toEqual(new Set(['/v1/traces']));
    const request = spans.find((s) => s.name === 'POST /api/v1/auth/login');
    expect(request, `spans received: ${[...new Set(spans.map((s) => s.name))].join(', ')}`).toBeDefined();
    expect(request!.service).toBe('shop-export-test');
    const statements = spans.filter(
      (s) => s.scope === '@opentelemetry/instrumentation-pg' && s.traceId === request!.traceId,
    );
    expect(statements.length).toBeGreaterThan(0);
    expect(spans.some((s) => s.scope === '@opentelemetry/instrumentation-ioredis')).toBe(true);
    // BullMQ's spans (bullmq-otel, tracer "shop"): the sweepers' job schedulers registered at start-up;
    // its housekeeping (stalled-job checks) starts no trace of its own.
    expect(spans.some((s) => s.scope === 'shop' && s.name.startsWith('add '))).toBe(true);
    const housekeepingRoots = spans.filter(
      (s) => !s.parentSpanId && /^(moveStalledJobsToWait|startStalledCheckTimer|getNextJob) /.test(s.name),
    );
    expect(housekeepingRoots.map((s) => s.name)).toEqual([]);
    const requestLog = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .find((line) => line.msg === 'request' && line.path === '/api/v1/auth/login');
    expect(requestLog?.traceId).toBe(request!.traceId);
  }, 60_000);
});
