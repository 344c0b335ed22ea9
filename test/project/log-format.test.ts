import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { chooseLogFormat } from '../../src/logger';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);

/** Runs test/support/log-one-line.ts with stdout on a pipe, or on a pseudo-terminal (`script`). */
async function logOneLine(nodeEnv: string, terminal: boolean): Promise<string> {
  const command = [process.execPath, '--import', 'tsx', 'test/support/log-one-line.ts'];
  const env = { ...process.env, NODE_ENV: nodeEnv, NO_COLOR: '', FORCE_COLOR: '0' };
  const { stdout } = terminal
    ? await run('script', ['-qec', command.map((part) => `'${part}'`).join(' '), '/dev/null'], {
        cwd: ROOT,
        env,
      })
    : await run(command[0]!, command.slice(1), { cwd: ROOT, env });
  return stdout.replace(/\r/g, '').trim();
}

describe('log format', () => {
  it('is pretty only for a terminal outside production', () => {
    expect(chooseLogFormat('development', true)).toBe('pretty');
    expect(chooseLogFormat('test', true)).toBe('pretty');
    expect(chooseLogFormat(undefined, true)).toBe('pretty');
    expect(chooseLogFormat('production', true)).toBe('json');
    expect(chooseLogFormat('development', false)).toBe('json');
    expect(chooseLogFormat('development', undefined)).toBe('json');
    expect(chooseLogFormat('production', undefined)).toBe('json');
  });

  it('writes one JSON object per line when stdout is a pipe, with the fields production always had', async () => {
    const line = JSON.parse(await logOneLine('development', false));
    expect(Object.keys(line).sort()).toEqual(['level', 'msg', 'orderId', 'pid', 'role', 'time']);
    expect(line).toMatchObject({ level: 'info', msg: 'order placed', orderId: 'order-1', role: 'sample' });
    expect(new Date(line.time).toISOString()).toBe(line.time);
  });

  it('writes JSON in production even at a terminal', async () => {
    const line = JSON.parse(await logOneLine('production', true));
    expect(line).toMatchObject({ level: 'info', msg: 'order placed', orderId: 'order-1' });
  });

  it('writes readable lines at a terminal in development', async () => {
    const output = await logOneLine('development', true);
    expect(() => JSON.parse(output)).toThrow();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the colour codes of a terminal
    const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: order placed/);
    expect(plain).toContain('orderId: "order-1"');
  });
});
