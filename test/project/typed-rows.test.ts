import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BigIntType, MikroORM } from '@mikro-orm/postgresql';
import { beforeAll, describe, expect, it } from 'vitest';
import { ormConfig } from '../../mikro-orm.config';
import { BIGINT_COLUMNS } from '../../src/db/database';

/**
 * Row types come from the one `DB` interface (src/db/database.ts): the typed builder infers them, and
 * statements kept as SQL text name them with `Row<table, columns>`. These checks keep it that way.
 */

const ROOT = join(import.meta.dirname, '../..');

/** Every table's columns as the MikroORM schemas define them (discovered without a database). */
let columns: Map<string, Set<string>>;
let bigints: Map<string, string[]>;

beforeAll(async () => {
  // Discovery only: MikroORM connects on first use, and this ORM runs no query.
  const orm = await MikroORM.init(
    ormConfig({ clientUrl: 'postgresql://nobody@127.0.0.1:1/none', poolSize: 1 }),
  );
  columns = new Map();
  bigints = new Map();
  for (const meta of orm.getMetadata().getAll().values()) {
    const props = meta.props.filter((p) => p.fieldNames?.length);
    columns.set(meta.tableName, new Set(props.flatMap((p) => p.fieldNames)));
    const big = props.filter((p) => p.customType instanceof BigIntType).flatMap((p) => p.fieldNames);
    if (big.length > 0) bigints.set(meta.tableName, big.sort());
  }
  await orm.close(true);
});

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

const withoutComments = (text: string) =>
  text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/[^\n]*/g, '');

/** The property names of the object type whose `{` is at `open`, nested types left out. */
function propertyNames(text: string, open: number): string[] {
  let depth = 0;
  let flat = '';
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if ('{[('.includes(c)) depth++;
    else if ('}])'.includes(c)) depth--;
    else if (depth === 1) flat += c;
    if (depth === 0) break;
  }
  return [...flat.matchAll(/(?:^|[;,\n])\s*(?:readonly\s+)?(\w+)\??\s*:/g)].map((m) => m[1]!);
}

/**
 * Hand-written object types that could describe a raw row: `interface …Row {`, `type …Row = {` and the
 * type literal of `query<{ … }>(`.
 */
function handWrittenRowTypes(file: string) {
  const text = withoutComments(readFileSync(file, 'utf8'));
  const patterns = [/\binterface \w*Row\b[^{]*\{/g, /\btype \w*Row\s*=\s*\{/g, /\bquery<\s*\{/g];
  return patterns.flatMap((pattern) =>
    [...text.matchAll(pattern)].map((m) => {
      const open = m.index + m[0].length - 1;
      return {
        where: `${relative(ROOT, file)}:${text.slice(0, open).split('\n').length}`,
        names: propertyNames(text, open),
      };
    }),
  );
}

/** The table whose columns include every name, if there is one. */
const tableRestated = (names: string[]) =>
  names.length === 0
    ? undefined
    : [...columns].find(([, cols]) => names.every((name) => cols.has(name)))?.[0];

describe('typed rows', () => {
  it('declares no row type that only restates columns of one table (use Row<table, columns> or the builder)', () => {
    const restated = ['src', 'workers']
      .flatMap(sourceFiles)
      .flatMap(handWrittenRowTypes)
      .flatMap(({ where, names }) => {
        const table = tableRestated(names);
        return table ? [`${where}: ${names.join(', ')} (all columns of ${table}, for one)`] : [];
      });
    expect(restated).toEqual([]);
  });

  it('finds the row types it looks for (the check above is not vacuous)', () => {
    const sample = join(ROOT, 'test/project/fixtures/hand-written-rows.ts.txt');
    const found = handWrittenRowTypes(sample).map(({ names }) => tableRestated(names));
    expect(found).toEqual(['orders', 'inventory', 'orders', undefined]);
  });

  it('lists every bigint column in BIGINT_COLUMNS, which DB reads as the string pg returns', () => {
    const listed = Object.entries(BIGINT_COLUMNS).map(([table, cols]) => [table, [...cols].sort()]);
    expect(new Map(listed as [string, string[]][])).toEqual(bigints);
  });
});
