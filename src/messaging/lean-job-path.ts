import type { ScriptEdit } from './script-edits';

/**
 * Reads and writes of a job's plain life that BullMQ's scripts make separately and the shop's make
 * together (applied with the quiet fetch: src/messaging/quiet-fetch.ts). Each is a command inside a
 * Lua script — little CPU, but a checkout's jobs ran ≈ 30 of them each. What BullMQ answers, and
 * what it leaves in Redis, stay the same (test/workers/lean-job-path.test.ts runs both side by side):
 *
 * - taking a job reads the head of the delayed set once: BullMQ asks for the due delayed jobs
 *   (`ZRANGEBYSCORE`) and then, when no other job waits, for the next due time (`ZRANGE`); the head
 *   answers both unless a job was due, which is then promoted as before;
 * - taking a job reads its hash, then writes when it was taken and the attempt it starts in one
 *   `HSET`: BullMQ writes the time, increments the attempts (`HINCRBY`) and reads the hash after;
 * - finishing a job learns that it exists from the attributes it reads anyway (`EXISTS`, then
 *   `HMGET`), and looks for a flow's children (the shop adds no flows) with one `EXISTS` of both
 *   keys instead of counting each (an empty set or sorted set is no key in Redis);
 * - finishing a job removed on completion deletes its lock with its other keys, in one `DEL`. (A
 *   script that fails after the lock check — a corrupt parent or deduplication entry — leaves that
 *   lock to expire with its lock duration, where BullMQ's would have deleted it.)
 */

/** `moveToActive`, and `moveToFinished` when it takes the next job. */
export const LEAN_TAKE: ScriptEdit[] = [
  {
    from: 'local function getNextDelayedTimestamp(delayedKey)\n',
    to:
      "-- The delayed set's head as promoteDelayedJobs read it, while no job was promoted since.\n" +
      'local delayedHeadKey, delayedHead\n' +
      'local function getNextDelayedTimestamp(delayedKey)\n',
  },
  {
    from: '  local result = rcall("ZRANGE", delayedKey, 0, 0, "WITHSCORES")\n',
    to:
      '  local result = (delayedKey == delayedHeadKey and delayedHead) or\n' +
      '    rcall("ZRANGE", delayedKey, 0, 0, "WITHSCORES")\n',
  },
  {
    from: '    local jobs = rcall("ZRANGEBYSCORE", delayedKey, 0, (timestamp + 1) * 0x1000 - 1, "LIMIT", 0, 1000)\n',
    to:
      '    local head = rcall("ZRANGE", delayedKey, 0, 0, "WITHSCORES")\n' +
      '    local jobs = {}\n' +
      '    if head[2] and tonumber(head[2]) <= (timestamp + 1) * 0x1000 - 1 then\n' +
      '      delayedHeadKey, delayedHead = nil, nil\n' +
      '      jobs = rcall("ZRANGEBYSCORE", delayedKey, 0, (timestamp + 1) * 0x1000 - 1, "LIMIT", 0, 1000)\n' +
      '    else\n' +
      '      delayedHeadKey, delayedHead = delayedKey, head\n' +
      '    end\n',
  },
  {
    from:
      '  rcall("HMSET", jobKey, "processedOn", processedOn, unpack(optionalValues))\n' +
      '  rcall("HINCRBY", jobKey, "ats", 1)\n',
    to:
      '  local jobData = rcall("HGETALL", jobKey)\n' +
      '  local attemptsStarted = 1\n' +
      '  for i = 1, #jobData, 2 do\n' +
      '    if jobData[i] == "ats" then attemptsStarted = tonumber(jobData[i + 1]) + 1 end\n' +
      '  end\n' +
      '  local started = {"processedOn", processedOn, "ats", string.format("%d", attemptsStarted), unpack(optionalValues)}\n' +
      '  rcall("HSET", jobKey, unpack(started))\n' +
      "  -- Read before the write: the new values follow the old ones, and a later field wins in BullMQ's array2obj.\n" +
      '  for _, value in ipairs(started) do table.insert(jobData, value) end\n',
  },
  {
    from: '  return {rcall("HGETALL", jobKey), jobId, 0, 0} -- get job data\n',
    to: '  return {jobData, jobId, 0, 0}\n',
  },
];

/** BullMQ's removal of a finished job's keys, repeated below with the lock among them. */
const REMOVE_JOB_KEYS =
  'local function removeJobKeys(jobKey)\n' +
  "  return rcall(\"DEL\", jobKey, jobKey .. ':logs', jobKey .. ':dependencies',\n" +
  "    jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful')\n" +
  'end\n';

/** `moveToFinished`. */
export const LEAN_FINISH: ScriptEdit[] = [
  {
    from:
      'if rcall("EXISTS", jobIdKey) == 1 then -- Make sure job exists\n' +
      '    -- Make sure it does not have pending dependencies\n' +
      '    -- It must happen before removing lock\n' +
      '    if ARGV[5] == "completed" then\n',
    to:
      // Every job's hash has its timestamp (storeJob); EXISTS stays for a hash without one.
      'local jobAttributes = rcall("HMGET", jobIdKey, "parentKey", "parent", "deid", "timestamp")\n' +
      'if jobAttributes[4] or rcall("EXISTS", jobIdKey) == 1 then\n' +
      '    if ARGV[5] == "completed" and\n' +
      '        rcall("EXISTS", jobIdKey .. ":dependencies", jobIdKey .. ":unsuccessful") > 0 then\n',
  },
  { from: '    local jobAttributes = rcall("HMGET", jobIdKey, "parentKey", "parent", "deid")\n', to: '' },
  {
    from: 'local function removeLock(jobKey, stalledKey, token, jobId)\n',
    to:
      '-- Set when the job is removed on finishing: its lock is deleted with its keys.\n' +
      'local lockGoesWithJob = false\n' +
      'local function removeLock(jobKey, stalledKey, token, jobId)\n',
  },
  {
    from: '      rcall("DEL", lockKey)\n',
    to: '      if not lockGoesWithJob then rcall("DEL", lockKey) end\n',
  },
  {
    from: '    local errorCode = removeLock(jobIdKey, KEYS[5], token, ARGV[1])\n',
    to:
      "    lockGoesWithJob = token ~= \"0\" and opts['keepJobs']['count'] == 0\n" +
      '    local errorCode = removeLock(jobIdKey, KEYS[5], token, ARGV[1])\n',
  },
  {
    from: '    if (numRemovedElements < 1) then\n        return -3\n',
    to: '    if (numRemovedElements < 1) then\n        if lockGoesWithJob then rcall("DEL", jobIdKey .. \':lock\') end\n        return -3\n',
  },
  {
    from: '        removeJobKeys(jobIdKey)\n',
    to:
      '        if lockGoesWithJob then\n' +
      "          rcall(\"DEL\", jobIdKey, jobIdKey .. ':lock', jobIdKey .. ':logs', jobIdKey .. ':dependencies',\n" +
      "            jobIdKey .. ':processed', jobIdKey .. ':failed', jobIdKey .. ':unsuccessful')\n" +
      '        else\n' +
      '          removeJobKeys(jobIdKey)\n' +
      '        end\n',
  },
];

/** What the edits above rely on besides their own lines. */
export function leanPathFits(lua: string, finish: boolean): boolean {
  const at = (name: string) => lua.indexOf(`local function ${name}(`);
  const delayedHelpersInOrder =
    at('getNextDelayedTimestamp') >= 0 && at('getNextDelayedTimestamp') < at('promoteDelayedJobs');
  if (!finish) return delayedHelpersInOrder;
  return (
    delayedHelpersInOrder &&
    lua.includes(REMOVE_JOB_KEYS) &&
    lua.includes("    local maxCount = opts['keepJobs']['count']\n") &&
    lua.includes('    if maxCount ~= 0 then\n')
  );
}
