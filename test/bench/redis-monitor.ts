/**
 * `npm run bench:monitor -- (--seconds <s> | --file <capture>) [--ops <n>] [--top <n>]`: where a
 * workload's Redis commands go, by script (BullMQ's by name) and by command, with what each script ran
 * inside — per operation when given the operations the window served. Live (`--seconds`) it runs
 * `redis-cli monitor`; run it beside `npm run bench` in the phase to look at (MONITOR slows
 * Redis: the rates of that run are not the figures to quote). `--file` reads `redis-cli monitor` output.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  bullmqScriptNames,
  type MonitorCommand,
  parseMonitorText,
  summarizeMonitor,
} from './redis-monitor-summary';

const USAGE = `npm run bench:monitor -- (--seconds <s> | --file <capture>) [options]

  --seconds <s>   run \`redis-cli monitor\` this long (BENCH_REDIS_URL, default redis://127.0.0.1:6379)
  --file <path>   read a \`redis-cli monitor\` capture instead
  --ops <n>       operations served in the window: print commands per operation too
  --top <n>       rows (default 30)
`;

/**
 * `redis-cli monitor` for `seconds`, parsed: ioredis's own monitor mode loses track of its replies when
 * MONITOR's first lines race its OK under load ("Command queue state error"), redis-cli does not.
 */
async function listen(seconds: number): Promise<MonitorCommand[]> {
  const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const cli = spawn('redis-cli', ['-u', url, 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  cli.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exited = new Promise<void>((resolve, reject) => {
    cli.once('error', reject);
    cli.once('exit', () => resolve());
  });
  await Promise.race([new Promise((resolve) => setTimeout(resolve, seconds * 1000)), exited]);
  cli.kill();
  await exited;
  return parseMonitorText(Buffer.concat(chunks).toString('utf8'));
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      file: { type: 'string' },
      ops: { type: 'string' },
      top: { type: 'string', default: '30' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || (values.seconds === undefined) === (values.file === undefined)) {
    process.stdout.write(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const commands = values.file
    ? parseMonitorText(readFileSync(values.file, 'utf8'))
    : await listen(Number(values.seconds));
  const { total, rows } = summarizeMonitor(commands, bullmqScriptNames());
  const ops = values.ops ? Number(values.ops) : undefined;
  const perOp = (n: number) => (ops ? `  ${(n / ops).toFixed(2).padStart(7)}/op` : '');
  console.log(`${total} commands${perOp(total)}`);
  console.log(
    `${'calls'.padStart(8)} ${'commands'.padStart(9)}${ops ? '  commands'.padStart(12) : ''}  what`,
  );
  for (const row of rows.slice(0, Number(values.top)))
    console.log(
      `${String(row.calls).padStart(8)} ${String(row.commands).padStart(9)}${perOp(row.commands)}  ${row.label}`,
    );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
