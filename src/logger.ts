import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config';
import { activeTraceIds, isTracing } from './tracing/tracing';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/**
 * Pretty, coloured lines for a developer at a terminal; one JSON object per line everywhere else
 * (production, containers, pipes, files, tests), so what collectors ingest never changes.
 */
export function chooseLogFormat(env: string | undefined, stdoutIsTerminal: boolean | undefined): LogFormat {
  return env !== 'production' && stdoutIsTerminal === true ? 'pretty' : 'json';
}

/** Structured logs on stdout; request, job and order ids are added by child loggers. */
export function createLogger(
  config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'env'>>,
  bindings: Record<string, unknown> = {},
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.logLevel,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    // While tracing, each line carries the trace and span it was written in.
    ...(isTracing() ? { mixin: activeTraceIds } : {}),
  };
  if (destination) return pino(options, destination);
  const format = chooseLogFormat(config.env ?? process.env.NODE_ENV, process.stdout.isTTY);
  return format === 'pretty' ? pino(options, prettyStdout()) : pino(options);
}

function prettyStdout(): DestinationStream {
  return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
}
