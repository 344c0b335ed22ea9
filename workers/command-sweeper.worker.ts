import { sweepQueuedCommands } from '../src/commands/receipt-sweeper';
import type { BackgroundDefinition } from './runtime';

/**
 * Every COMMAND_SWEEP_INTERVAL_MS, ends the commands answered 202 whose job Redis lost or that failed
 * for good without a receipt. A timer in the process, not a job scheduler: it must run even when Redis
 * lost everything.
 */
export const commandSweeper: BackgroundDefinition = {
  kind: 'background',
  start: async (ctx, log) => {
    let running: Promise<unknown> | undefined;
    const tick = () => {
      running ??= sweepQueuedCommands(ctx, log)
        .catch((err) => log.warn({ err: String(err) }, 'command sweep failed; next time'))
        .finally(() => {
          running = undefined;
        });
    };
    const timer = setInterval(tick, ctx.config.commandSweepIntervalMs);
    timer.unref();
    return {
      close: async () => {
        clearInterval(timer);
        await running;
      },
    };
  },
};
