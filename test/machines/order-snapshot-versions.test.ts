import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ORDER_MACHINE_VERSION } from '../../machines/order.machine';
import {
  allowedActions,
  migrateSnapshot,
  type PersistedOrderState,
  restoreOrderSnapshot,
  stateOf,
} from '../../machines/order-snapshot';

interface StoredOrder {
  state: string;
  allowedActions: string[];
  persisted: PersistedOrderState;
}

/** Orders as machine v1 stored them (one per state an order can rest in), checked in, never regenerated. */
const STORED_V1: StoredOrder[] = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures/order-snapshots-v1.json'), 'utf8'),
);

describe('orders stored by an earlier machine version still load', () => {
  it.each(STORED_V1.map((o) => [o.state, o] as const))(
    'a v1 order in %s loads into the current machine with the same state and allowed actions',
    (_state, stored) => {
      expect(stored.persisted.machineVersion).toBe(1);
      const snapshot = restoreOrderSnapshot(stored.persisted);
      expect(stateOf(snapshot)).toBe(stored.state);
      const at = (stored.persisted.snapshot.context as { placedAt: number }).placedAt + 10_000;
      expect(allowedActions(snapshot, at).sort()).toEqual([...stored.allowedActions].sort());
    },
  );

  it('the current machine version is reached from v1 through the registered migrations', () => {
    for (const stored of STORED_V1) expect(() => migrateSnapshot(stored.persisted)).not.toThrow();
    expect(ORDER_MACHINE_VERSION).toBeGreaterThanOrEqual(1);
  });
});

describe('snapshot migrations run one version at a time, in order', () => {
  const stored = STORED_V1[0]!.persisted;
  // A machine change: v2 renamed PENDING.awaitingPayment to PENDING.unpaid, v3 added a context field.
  const migrations = {
    1: (s: Record<string, unknown>) => ({ ...s, value: { PENDING: 'unpaid' } }),
    2: (s: Record<string, unknown>) => ({ ...s, context: { ...(s.context as object), channel: 'web' } }),
  };

  it('a v1 snapshot loaded by a v3 machine gets both steps', () => {
    const migrated = migrateSnapshot(stored, migrations, 3);
    expect(migrated.value).toEqual({ PENDING: 'unpaid' });
    expect(migrated.context).toMatchObject({ channel: 'web', total: 30000 });
    expect(stored.snapshot.value).toEqual({ PENDING: 'awaitingPayment' });
  });

  it('a missing step or a snapshot newer than the machine is refused, loudly', () => {
    expect(() => migrateSnapshot(stored, { 1: migrations[1] }, 3)).toThrow(
      'No migration from order machine v2 to v3',
    );
    expect(() => migrateSnapshot({ ...stored, machineVersion: 4 }, migrations, 3)).toThrow(
      'No migration from order machine v4 to v3: the snapshot is newer than this machine',
    );
  });
});
