/**
 * The seed of a randomized test. `TEST_SEED=<n>` replays a run; otherwise each run draws a fresh
 * seed. Printed either way, so any failure can be replayed.
 */
export function testSeed(label: string): number {
  const given = process.env.TEST_SEED;
  const seed = given === undefined || given === '' ? Math.floor(Math.random() * 2 ** 31) : Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`TEST_SEED must be an integer, not '${given}'`);
  console.log(`[seed] ${label}: TEST_SEED=${seed} replays this run`);
  return seed;
}
