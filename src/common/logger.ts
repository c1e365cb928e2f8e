// Structured logging (pino). JSON to stderr by default, so journald keeps it; a
// compact human format for terminals. Secrets are redacted by path, whatever the
// caller passes.
import pino from 'pino';
import type { Writable } from 'node:stream';

export type Logger = pino.Logger;
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
    },
    stream as Writable,
  );
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
