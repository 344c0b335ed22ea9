import { type Logger, pino } from 'pino';
import type { Config } from './config';

export type { Logger };

/** Structured JSON logs on stdout; request, job and order ids are added by child loggers. */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  bindings: Record<string, unknown> = {},
): Logger {
  return pino({
    level: config.logLevel,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
