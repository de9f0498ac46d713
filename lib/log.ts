// The logger: pino, pretty with timestamps in a terminal, one JSON object per line otherwise. It is used
// for lifecycle events only (listen, connect, register, disconnect, errors), never per chat message.
import pino from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './config.js';

export type Logger = pino.Logger;

/** Fields never written to the log, whatever their value. */
export const REDACTED_PATHS: readonly string[] = ['password', '*.password'];

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** File descriptor or stream; stdout by default. */
  destination?: number | NodeJS.WritableStream;
  /** Pretty format only; by default when stdout is a TTY and NO_COLOR is not set. */
  colorize?: boolean;
}

/** True when colour escapes may be written to `stream` (a TTY, and NO_COLOR unset or empty). */
export function colourAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

export function createLogger(opts: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    name: 'epchat',
    level: opts.level,
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  const dest = opts.destination ?? 1;
  if (opts.format === 'pretty') {
    const stream = pretty({
      colorize: opts.colorize ?? colourAllowed(process.stdout),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      // Synchronous, so that log lines interleave correctly with console output and nothing is lost on exit.
      sync: true,
      destination: dest,
    });
    return pino(options, stream);
  }
  const stream = typeof dest === 'number' ? pino.destination({ dest, sync: true }) : (dest as pino.DestinationStream);
  return pino({ ...options, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

/** A logger that writes nothing (for tests and embedding). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
