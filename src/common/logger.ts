// Structured logging (pino). JSON to stderr by default, so journald keeps it; a
// compact human format for terminals. Secrets are redacted by path, whatever the
// caller passes.
import pino from 'pino';
import type { Writable } from 'node:stream';

export type Logger = pino.Logger;
/** The calls library code makes: a pino Logger, or a forwarder on a worker thread. */
export type LogMethods = Pick<Logger, 'debug' | 'info' | 'warn'>;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogFormat = 'json' | 'text';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Paths whose values never reach a log line (registry credentials, auth headers). */
export const REDACTED_PATHS = [
  'password', '*.password', 'auth', '*.auth', 'identityToken', '*.identityToken',
  'registryToken', '*.registryToken', 'authorization', '*.authorization',
  'headers.authorization', '*.headers.authorization', 'token', '*.token',
];

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; stderr when omitted. */
  destination?: { write(line: string): unknown };
  name?: string;
  /** Only messages matching it are written; changeable while running (SIGHUP). */
  filter?: LogFilter;
}

/**
 * The log_filter of cri-o: a message not matching the pattern is dropped, whatever
 * its level. One holder shared by a logger and its children, so a reload that sets
 * a new pattern applies to every component's logger at once.
 */
export class LogFilter {
  private pattern: RegExp | undefined;

  constructor(source = '') {
    this.set(source);
  }

  /** An empty source lets every message through. Throws on an invalid expression. */
  set(source: string): void {
    this.pattern = source === '' ? undefined : new RegExp(source);
  }

  passes(message: string): boolean {
    return this.pattern === undefined || this.pattern.test(message);
  }
}

/** The message of a pino call: log(msg, ...) or log(obj, msg, ...). */
function messageOfCall(args: readonly unknown[]): string {
  if (typeof args[0] === 'string') return args[0];
  if (typeof args[1] === 'string') return args[1];
  if (args[0] instanceof Error) return args[0].message;
  return '';
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stderr;
  const stream = options.format === 'text' ? new TextFormatStream(destination) : destination;
  return pino(
    {
      level: options.level,
      base: { pid: process.pid, ...(options.name ? { name: options.name } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      ...(options.filter ? { hooks: { logMethod: filterHook(options.filter) } } : {}),
    },
    stream as Writable,
  );
}

function filterHook(filter: LogFilter): (this: pino.Logger, args: Parameters<pino.LogFn>, method: pino.LogFn) => void {
  return function (this: pino.Logger, args, method) {
    if (filter.passes(messageOfCall(args))) method.apply(this, args);
  };
}

/** A logger that drops everything, for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const HIDDEN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** Renders pino's JSON lines as `time LEVEL msg key=value ...`. */
class TextFormatStream {
  constructor(private readonly out: { write(line: string): unknown }) {}

  write(line: string): boolean {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(line);
      return true;
    }
    const fields = Object.entries(record)
      .filter(([key]) => !HIDDEN_KEYS.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? quoteIfNeeded(value) : JSON.stringify(value)}`);
    const level = String(record.level ?? '').toUpperCase().padEnd(5);
    this.out.write(`${String(record.time ?? '')} ${level} ${String(record.msg ?? '')}${fields.length ? ' ' + fields.join(' ') : ''}\n`);
    return true;
  }
}

function quoteIfNeeded(value: string): string {
  return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
}
