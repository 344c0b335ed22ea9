import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bullmqScriptNames, keyPattern, parseMonitorText, summarizeMonitor } from './redis-monitor-summary';

const sha = (source: string) => createHash('sha1').update(source).digest('hex');
const ORDER = '0190b1c2-aaaa-7bbb-8ccc-0123456789ab';

/** Two jobs' fetches (one finds nothing), a script run by EVAL, plain commands, and noise. */
const capture = [
  'OK',
  `1733570000.000001 [0 127.0.0.1:5001] "EVALSHA" "${'a'.repeat(40)}" "2" "p:bull:order:wait" "p:bull:order:active" "x"`,
  '1733570000.000002 [0 lua] "RPOPLPUSH" "p:bull:order:wait" "p:bull:order:active"',
  `1733570000.000003 [0 lua] "HGETALL" "p:bull:order:${ORDER}"`,
  `1733570000.000004 [0 127.0.0.1:5001] "EVALSHA" "${'a'.repeat(40)}" "2" "p:bull:order:wait" "p:bull:order:active" "x"`,
  '1733570000.000005 [0 lua] "RPOPLPUSH" "p:bull:order:wait" "p:bull:order:active"',
  `1733570000.000006 [0 127.0.0.1:5002] "INCR" "p:{product:${ORDER}}:gen"`,
  `1733570000.000007 [0 127.0.0.1:5002] "EVAL" "return redis.call('get', KEYS[1])" "1" "p:k"`,
  '1733570000.000008 [0 lua] "get" "p:k"',
  '1733570000.000009 [0 127.0.0.1:5003] "PUBLISH" "p:replies:12345678" "say \\"hi\\""',
].join('\n');

describe('Redis MONITOR summary', () => {
  it('reads redis-cli monitor lines, escapes included, and skips what is not a command', () => {
    const commands = parseMonitorText(capture);
    expect(commands).toHaveLength(9);
    expect(commands[1]).toEqual({
      source: 'lua',
      args: ['RPOPLPUSH', 'p:bull:order:wait', 'p:bull:order:active'],
    });
    expect(commands.at(-1)!.args).toEqual(['PUBLISH', 'p:replies:12345678', 'say "hi"']);
  });

  it('generalizes ids and long numbers in keys', () => {
    expect(keyPattern(`p:{product:${ORDER}}:gen`)).toBe('p:{product:<id>}:gen');
    expect(keyPattern('p:bull:order:expire-at-1796641666')).toBe('p:bull:order:expire-at-<n>');
    expect(keyPattern('p:bull:order:wait')).toBe('p:bull:order:wait');
  });

  it('counts each script with the commands it ran inside, named when known, largest first', () => {
    const names = new Map([['a'.repeat(40), 'moveToActive']]);
    const { total, rows } = summarizeMonitor(parseMonitorText(capture), names);
    expect(total).toBe(9);
    expect(rows).toEqual([
      { label: 'script moveToActive p:bull:order:wait', calls: 2, commands: 5 },
      { label: `script ${sha("return redis.call('get', KEYS[1])").slice(0, 8)} p:k`, calls: 1, commands: 2 },
      { label: 'INCR p:{product:<id>}:gen', calls: 1, commands: 1 },
      { label: 'PUBLISH p:replies:<n>', calls: 1, commands: 1 },
    ]);
  });

  it('knows BullMQ’s scripts by the sha they run under', () => {
    const names = bullmqScriptNames();
    expect([...names.values()]).toEqual(
      expect.arrayContaining(['moveToActive', 'moveToFinished', 'addStandardJob']),
    );
    expect(names.size).toBeGreaterThan(20);
  });
});
