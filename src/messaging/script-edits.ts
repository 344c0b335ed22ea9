import { version as bullmqVersion } from 'bullmq/dist/esm/version.js';
import type { Redis } from './redis';

/** One of BullMQ's Lua scripts as `bullmq/dist/esm/scripts` exports it (includes inlined). */
export interface BullScript {
  name: string;
  content: string;
  keys: number;
}

/** A line of BullMQ's Lua replaced by ours: `from` must occur exactly once in the script. */
export interface ScriptEdit {
  from: string;
  to: string;
}

/**
 * BullMQ's script with these lines replaced, in order. A BullMQ whose script no longer has every
 * `from` exactly once, or fails one of `alsoRequires`, is refused here — at start-up, not in the
 * middle of a job; so are edits that overlap (a `from` that an earlier edit changed).
 */
export function editScript(
  script: BullScript,
  edits: ScriptEdit[],
  alsoRequires: (lua: string) => boolean = () => true,
): BullScript {
  const once = (text: string, from: string) => text.split(from).length === 2;
  const refuse = (why: string) =>
    new Error(
      `bullmq ${bullmqVersion}: its ${script.name} script ${why}; review src/messaging/quiet-fetch.ts, event-stream.ts, job-counters.ts and lean-job-path.ts`,
    );
  if (!edits.every((edit) => once(script.content, edit.from)) || !alsoRequires(script.content)) {
    throw refuse('changed shape');
  }
  const content = edits.reduce((text, edit) => {
    if (!once(text, edit.from)) throw refuse(`lost a line to an earlier edit (${JSON.stringify(edit.from)})`);
    return text.replace(edit.from, edit.to);
  }, script.content);
  return { ...script, content };
}

/**
 * Registers scripts under BullMQ's own command names (`name:version`) on this connection. BullMQ
 * defines a command only where none of that name exists, so its Queue or Worker on this connection
 * runs ours.
 */
export function defineScripts(redis: Redis, scripts: readonly BullScript[]): void {
  for (const script of scripts) {
    redis.defineCommand(`${script.name}:${bullmqVersion}`, {
      numberOfKeys: script.keys,
      lua: script.content,
    });
  }
}
