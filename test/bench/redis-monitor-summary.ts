import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One command as Redis's MONITOR shows it: who sent it ("lua" inside a script) and its words. */
export interface MonitorCommand {
  source: string;
  args: string[];
}

export interface MonitorRow {
  /** `script <name> <first key>` for EVALSHA/EVAL, `<COMMAND> <first key>` otherwise (ids generalized). */
  label: string;
  /** Calls sent by clients. */
  calls: number;
  /** The calls plus the commands run inside them (a script's own), as INFO commandstats counts. */
  commands: number;
}

/**
 * `redis-cli monitor` output: `1733570000.123456 [0 127.0.0.1:5555] "EVALSHA" "ab…" "2" "k1" …`, the
 * words quoted with C-like escapes; other lines ("OK") are skipped.
 */
export function parseMonitorText(text: string): MonitorCommand[] {
  const commands: MonitorCommand[] = [];
  for (const line of text.split('\n')) {
    const head = line.match(/^\d+\.\d+ \[\d+ ([^\]]+)\] /);
    if (!head) continue;
    commands.push({ source: head[1]!, args: quotedWords(line.slice(head[0].length)) });
  }
  return commands;
}

function quotedWords(rest: string): string[] {
  const words: string[] = [];
  const word = /"((?:[^"\\]|\\.)*)"/g;
  for (let m = word.exec(rest); m; m = word.exec(rest)) words.push(m[1]!.replace(/\\(.)/g, '$1'));
  return words;
}

/** A key with its ids and numbers generalized, so one row stands for every order, job or product. */
export function keyPattern(key: string): string {
  return key
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\d{4,}/g, '<n>');
}

/**
 * Client commands grouped by what they are: a script by its name (else its sha's first 8 characters)
 * and its first key, with the commands it ran inside (MONITOR lists them right after its call, Redis
 * running one script at a time); any other command by name and first key. Largest first.
 */
export function summarizeMonitor(
  commands: readonly MonitorCommand[],
  scriptNames: ReadonlyMap<string, string> = new Map(),
): { total: number; rows: MonitorRow[] } {
  const rows = new Map<string, MonitorRow>();
  let current: MonitorRow | undefined;
  let total = 0;
  for (const { source, args } of commands) {
    total += 1;
    if (source === 'lua') {
      if (current) current.commands += 1;
      continue;
    }
    const label = labelOf(args, scriptNames);
    const row = rows.get(label) ?? { label, calls: 0, commands: 0 };
    rows.set(label, row);
    row.calls += 1;
    row.commands += 1;
    current = row;
  }
  return {
    total,
    rows: [...rows.values()].sort((a, b) => b.commands - a.commands || a.label.localeCompare(b.label)),
  };
}

function labelOf(args: readonly string[], scriptNames: ReadonlyMap<string, string>): string {
  const command = (args[0] ?? '').toUpperCase();
  if (command === 'EVALSHA' || command === 'EVAL') {
    const body = args[1] ?? '';
    const sha = command === 'EVAL' ? createHash('sha1').update(body).digest('hex') : body.toLowerCase();
    const keys = Number(args[2] ?? 0);
    const name = scriptNames.get(sha) ?? sha.slice(0, 8);
    return `script ${name}${keys > 0 ? ` ${keyPattern(args[3] ?? '')}` : ''}`;
  }
  return args.length > 1 ? `${command} ${keyPattern(args[1]!)}` : command;
}

/** BullMQ's Lua scripts by the sha1 ioredis runs them under (their content), named as BullMQ names them. */
export function bullmqScriptNames(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const scripts = join(dirname(require.resolve('bullmq')), 'scripts');
  const names = new Map<string, string>();
  for (const file of readdirSync(scripts).filter((f) => /-\d+\.js$/.test(f))) {
    const module = require(join(scripts, file)) as Record<string, { name?: string; content?: string }>;
    for (const script of Object.values(module))
      if (script?.name && script.content)
        names.set(createHash('sha1').update(script.content).digest('hex'), script.name);
  }
  return names;
}
