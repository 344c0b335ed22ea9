import type { Worker } from 'bullmq';
import { moveToActive, moveToFinished } from 'bullmq/dist/esm/scripts/index.js';
import { version as bullmqVersion } from 'bullmq/dist/esm/version.js';
import { QUIET_FINISH, QUIET_TAKE } from './event-stream';
import { LEAN_FINISH_COUNTERS } from './job-counters';
import { LEAN_FINISH, LEAN_TAKE, leanPathFits } from './lean-job-path';
import type { Redis } from './redis';
import { defineScripts, editScript, type ScriptEdit } from './script-edits';

/**
 * BullMQ wakes its workers with one marker per queue. Whenever a worker takes a job it puts the
 * marker back, whether or not another job waits (taskforcesh/bullmq#2904: so that one marker for a
 * bulk add wakes every worker), and after a fetch that found a job the worker fetches again at once
 * while it has room; finishing a job tries to take the next one too. So a job that arrives at an idle
 * queue costs two fetches that find nothing — a script of ≈ 7 commands and a round trip each — and
 * a third inside its finish, on top of the one that found it: a fifth of a placement's Redis
 * commands and a quarter of a checkout's.
 *
 * Here the marker is put back, and a finish takes the next job, only when a job is waiting or
 * prioritized; a finish leaves a waiting job whose marker a worker has already popped to that
 * worker's fetch, and a finish that takes the last waiting job removes the marker that announced it
 * (BullMQ leaves it, and it wakes a worker for a fetch that finds nothing: four in ten of the order
 * mailbox's fetches under checkout load). That makes the marker exact; and the worker waits on the
 * marker (`BZPOPMIN`, one command, at once when it is there) before every fetch instead of fetching
 * blind. One thing the blind
 * fetches did besides: a fetch that found nothing told the worker when the next delayed job is due,
 * after taking a job had made it forget the due time it had popped with the delay marker. So when no
 * job waits, taking one puts the delay marker back with that due time (delayed jobs, retries with
 * backoff and job schedulers keep their time). BullMQ's own scripts with those lines changed are
 * registered on the worker's connections under BullMQ's names, so BullMQ does not register its own.
 * A BullMQ whose scripts or worker no longer have the shape this relies on fails the worker's start,
 * not its jobs. BullMQ's rate limiting relies on a blind fetch after its wait: the `limiter` option
 * is refused here, and `Worker.rateLimit` (which the shop does not use) would strand a prioritized job.
 */

// In both scripts KEYS[1] is the wait list, KEYS[3] the prioritized set and KEYS[7] the delayed set
// (checked below); getNextDelayedTimestamp is BullMQ's own, defined before prepareJobForProcessing.
// An empty list or sorted set is no key in Redis: one EXISTS asks whether either holds a job.
const JOB_WAITING = '(rcall("EXISTS", KEYS[1], KEYS[3]) > 0)';

/**
 * `afterFinish`: the job was taken by a finish, not after a wait on the marker, so the base marker
 * that announced it ("0"; a delayed job's is "1") is still there; with no other job waiting it would
 * wake a worker for a fetch that finds nothing, so it goes.
 */
const markerPutBack = (afterFinish: boolean): ScriptEdit => ({
  from: '  addBaseMarkerIfNeeded(markerKey, false)\n  -- rate limit delay must be 0 in this case',
  to:
    `  if ${JOB_WAITING} then\n` +
    '    addBaseMarkerIfNeeded(markerKey, false)\n' +
    '  else\n' +
    (afterFinish ? '    rcall("ZREM", markerKey, "0")\n' : '') +
    '    local nextTimestamp = getNextDelayedTimestamp(KEYS[7])\n' +
    '    if nextTimestamp ~= nil then rcall("ZADD", markerKey, nextTimestamp, "1") end\n' +
    '  end\n' +
    '  -- rate limit delay must be 0 in this case',
});
/**
 * A finish takes the next job only while a job waits and its marker is still there: a waiting job
 * whose marker is gone has woken a worker, whose fetch is on its way and would find nothing if the
 * finish took the job first (KEYS[14] is moveToFinished's marker key).
 */
const FINISH_TAKES_NEXT: ScriptEdit = {
  from: '    if (ARGV[6] == "1") then\n',
  to: `    if ARGV[6] == "1" and ${JOB_WAITING} and rcall("ZSCORE", KEYS[14], "0") then\n`,
};

function hasKeysAndHelpers(lua: string): boolean {
  return (
    lua.includes('KEYS[1] wait key') &&
    lua.includes('KEYS[3] prioritized key') &&
    lua.includes('KEYS[7] delayed key') &&
    definedBefore(lua, 'getNextDelayedTimestamp', 'prepareJobForProcessing')
  );
}

function definedBefore(lua: string, first: string, second: string): boolean {
  const at = (name: string) => lua.indexOf(`local function ${name}(`);
  return at(first) >= 0 && at(first) < at(second);
}

/**
 * BullMQ's `moveToActive` and `moveToFinished`, edited as above, and without the job's events in the
 * queue's event stream (src/messaging/event-stream.ts).
 */
const quietFetchScripts = [
  editScript(
    moveToActive,
    [markerPutBack(false), ...QUIET_TAKE, ...LEAN_TAKE],
    (lua) => hasKeysAndHelpers(lua) && leanPathFits(lua, false),
  ),
  editScript(
    moveToFinished,
    [
      markerPutBack(true),
      FINISH_TAKES_NEXT,
      ...QUIET_TAKE,
      ...QUIET_FINISH,
      ...LEAN_FINISH_COUNTERS,
      ...LEAN_TAKE,
      ...LEAN_FINISH,
    ],
    (lua) => hasKeysAndHelpers(lua) && leanPathFits(lua, true) && lua.includes('KEYS[14] marker key'),
  ),
];

const quietConnections = new WeakSet<object>();

/**
 * Registers the fetch scripts on this connection and on every duplicate of it (BullMQ runs a worker on
 * duplicates of the connection it is given). Give the result to the Worker, then `runWithQuietFetch`.
 */
export function withQuietFetch<R extends Redis>(redis: R): R {
  defineScripts(redis, quietFetchScripts);
  const duplicate = redis.duplicate.bind(redis) as (...args: unknown[]) => R;
  Object.defineProperty(redis, 'duplicate', {
    value: (...args: unknown[]) => withQuietFetch(duplicate(...args)),
    configurable: true,
  });
  quietConnections.add(redis);
  return redis;
}

/**
 * Starts a worker (created with `autorun: false` on a `withQuietFetch` connection) that waits on the
 * marker before every fetch — BullMQ does so only once a fetch found nothing. Either half alone would
 * lose wake-ups or keep the empty fetches, so a worker without the other is refused. The worker's
 * 'drained' event no longer fires (the shop does not listen to it).
 */
export function runWithQuietFetch(worker: Worker): void {
  if (!quietConnections.has(worker.opts.connection as object)) {
    throw new Error('quiet fetch: the worker was not given a withQuietFetch connection');
  }
  if (worker.opts.limiter) {
    throw new Error("quiet fetch: a rate-limited worker needs BullMQ's blind fetch after its wait");
  }
  if (typeof (worker as unknown as { drained?: unknown }).drained !== 'boolean') {
    throw new Error(
      `bullmq ${bullmqVersion}: Worker has no drained flag; review src/messaging/quiet-fetch.ts`,
    );
  }
  // Read in BullMQ's fetch as "the queue was found empty: wait on the marker first".
  Object.defineProperty(worker, 'drained', { get: () => true, set: () => undefined, configurable: true });
  worker.run().catch((err) => worker.emit('error', err));
}
