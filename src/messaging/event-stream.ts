import { addStandardJob } from 'bullmq/dist/esm/scripts/index.js';
import { LEAN_ADD_COUNTERS } from './job-counters';
import type { Redis } from './redis';
import { defineScripts, editScript, type ScriptEdit } from './script-edits';

/**
 * BullMQ writes each job's life to a Redis stream per queue (`…:events`) for `QueueEvents` listeners:
 * added, waiting, active, completed, and drained when a finish leaves the queue empty, with a read
 * of the stream's length limit and an `XTRIM` at each finish: about 10 of the ≈ 42 Redis commands a
 * job costs (a checkout's 166 commands are 140 without them). Nothing reads that stream here: the
 * shop has no `QueueEvents` (a command's answer is its receipt and a pub/sub reply, an event's
 * delivery is acknowledged in PostgreSQL) and Bull Board reads the queues' lists and sets. So the
 * scripts of a job's plain path — adding it, taking it, completing it — no longer write it. What
 * stays: a failed finish, with its retries-exhausted entry and its trim, and whatever BullMQ's other
 * scripts write — delayed, prioritized and scheduled adds, promotions, backoff retries, stalls,
 * duplicates, progress — kept short by their own trims and by the stalled-job check's, which runs
 * every few seconds. An external `QueueEvents` listener would hear those, never a plain job's
 * `completed`: `job.waitUntilFinished` would wait out its timeout (docs/operations.md).
 */

/**
 * `addStandardJob`: the added and waiting events, and the read of the stream's length limit, which
 * is now needed only by the events still written when a job is a duplicate or deduplicated.
 */
const QUIET_ADD: ScriptEdit[] = [
  { from: '    rcall("XADD", eventsKey, "*", "event", "added", "jobId", jobId, "name", name)\n', to: '' },
  {
    from: 'local maxEvents = getOrSetMaxEvents(metaKey)\n',
    to: "local maxEvents = opts['de'] and getOrSetMaxEvents(metaKey)\n",
  },
  {
    from: '            maxEvents, timestamp, deferParentRelease)\n',
    to: '            maxEvents or getOrSetMaxEvents(metaKey), timestamp, deferParentRelease)\n',
  },
  {
    from:
      '-- Emit waiting event\n' +
      'rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting",\n' +
      '      "jobId", jobId)\n',
    to: '',
  },
];

/** `moveToActive`, and `moveToFinished` when it takes the next job: the active event. */
export const QUIET_TAKE: ScriptEdit[] = [
  {
    from: '  rcall("XADD", eventStreamKey, "*", "event", "active", "jobId", jobId, "prev", "waiting")\n',
    to: '',
  },
];

/** `moveToFinished`: the completed event, the trim before it and the drained event; a failure keeps its own. */
export const QUIET_FINISH: ScriptEdit[] = [
  {
    from: '    trimEvents(metaKey, eventStreamKey)\n',
    to: '    if ARGV[5] == "failed" then trimEvents(metaKey, eventStreamKey) end\n',
  },
  {
    from: '    rcall("XADD", eventStreamKey, "*", "event", ARGV[5], "jobId", jobId, ARGV[3], ARGV[4], "prev", "active")\n',
    to:
      '    if ARGV[5] == "failed" then\n' +
      '      rcall("XADD", eventStreamKey, "*", "event", ARGV[5], "jobId", jobId, ARGV[3], ARGV[4], "prev", "active")\n' +
      '    end\n',
  },
  {
    from:
      '    local waitLen = rcall("LLEN", KEYS[1])\n' +
      '    if waitLen == 0 then\n' +
      '        local activeLen = rcall("LLEN", KEYS[2])\n' +
      '        if activeLen == 0 then\n' +
      '            local prioritizedLen = rcall("ZCARD", KEYS[3])\n' +
      '            if prioritizedLen == 0 then\n' +
      '                rcall("XADD", eventStreamKey, "*", "event", "drained")\n' +
      '            end\n' +
      '        end\n' +
      '    end\n',
    to: '',
  },
];

const quietAddScripts = [editScript(addStandardJob, [...QUIET_ADD, ...LEAN_ADD_COUNTERS])];

/**
 * A producer connection whose Queues add jobs without writing their added and waiting events (and
 * without the id counter a job with its own id does not need: src/messaging/job-counters.ts).
 */
export function withQuietAdd<R extends Redis>(redis: R): R {
  defineScripts(redis, quietAddScripts);
  return redis;
}
