import type { ScriptEdit } from './script-edits';

/**
 * Two counters BullMQ keeps for every job that nothing here reads, dropped from the scripts of a
 * job's plain path (applied with the event-stream edits: src/messaging/event-stream.ts):
 * - adding a job increments the queue's id counter (`<queue>:id`) even when the job brings its own
 *   id, which every shop job does (command ids, outbox rows' ids, batch and bucket ids): the counter
 *   now numbers only the jobs that need it to have an id;
 * - finishing a job counts its attempt (`atm`) in the job's hash just before a completed job removed
 *   on completion is deleted together with that hash: the count is now kept only where it stays, a
 *   completed job that is kept, and every failed one (its retries and Bull Board read it).
 */

/** `addStandardJob`: the id counter only for a job without an id of its own. */
export const LEAN_ADD_COUNTERS: ScriptEdit[] = [
  { from: 'local jobCounter = rcall("INCR", KEYS[4])\n', to: '' },
  {
    from: '    jobId = jobCounter .. "" -- convert to string\n',
    to: '    jobId = rcall("INCR", KEYS[4]) .. "" -- convert to string\n',
  },
];

/** `moveToFinished`: no attempt counted in the hash of a completed job that is removed right after. */
export const LEAN_FINISH_COUNTERS: ScriptEdit[] = [
  {
    from: '    local attemptsMade = rcall("HINCRBY", jobIdKey, "atm", 1)\n',
    to:
      '    local attemptsMade = 0\n' +
      '    if maxCount ~= 0 or ARGV[5] ~= "completed" then\n' +
      '        attemptsMade = rcall("HINCRBY", jobIdKey, "atm", 1)\n' +
      '    end\n',
  },
];
