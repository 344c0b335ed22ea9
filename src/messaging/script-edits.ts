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
 * BullMQ's script with these lines replaced. A BullMQ whose script no longer has every `from` exactly
 * once, or fails one of `alsoRequires`, is refused here — at start-up, not in the middle of a job.
 */
export function editScript(
  script: BullScript,
  edits: ScriptEdit[],
  alsoRequires: (lua: string) => boolean = () => true,
): BullScript {
  const shaped =
    edits.every((edit) => script.content.split(edit.from).length === 2) && alsoRequires(script.content);
  if (!shaped) {
    throw new Error(
      `bullmq ${bullmqVersion}: its ${script.name} script changed shape; review src/messaging/quiet-fetch.ts, event-stream.ts, job-counters.ts and lean-job-path.ts`,
    );
  }
  const content = edits.reduce((text, edit) => text.replace(edit.from, edit.to), script.content);
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
