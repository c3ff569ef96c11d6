/**
 * Structured logging: one JSON object per line. A silo logs through a `Logger`; the
 * container entry point writes to stdout, a library user may pass their own sink.
 * `format: 'pretty'` (`GRANARY_LOG_FORMAT=pretty`) writes one readable line per record for
 * a terminal instead. A record made while a trace is under way carries its `trace_id`.
 */
import { currentTraceId } from '../runtime/features/tracing/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  /** `json` (default) or `pretty`. */
  format?: LogFormat;
  write?: (line: string) => void;
  fields?: LogFields;
}

export function jsonLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const render = options.format === 'pretty' ? prettyLine : JSON.stringify;
  const base = options.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const rec: LogFields = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    if (rec.err instanceof Error) rec.err = { name: rec.err.name, message: rec.err.message, code: (rec.err as { code?: unknown }).code };
    if (rec.trace_id === undefined) {
      const traceId = currentTraceId();
      if (traceId !== undefined) rec.trace_id = traceId;
    }
    write(render(rec));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => jsonLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/**
 * `12:00:01.234 WARN  grain call failed  type=Counter key=a …`, then a stack, indented, when
 * the record has one: for people reading a terminal, not for machines.
 */
export function prettyLine(rec: LogFields): string {
  const { time, level, msg, stack, ...rest } = rec;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const parts = [clock, String(level).toUpperCase().padEnd(5), String(msg)];
  const pairs = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  let line = parts.join(' ') + (pairs.length > 0 ? '  ' + pairs.join(' ') : '');
  if (typeof stack === 'string') line += '\n' + stack.split('\n').map((l) => '    ' + l.trim()).join('\n');
  return line;
}

/** The level named by `GRANARY_LOG_LEVEL`, else `fallback`. */
export function envLogLevel(fallback: LogLevel): LogLevel {
  const v = process.env.GRANARY_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : fallback;
}

/** The format named by `GRANARY_LOG_FORMAT` (`pretty`), else JSON lines. */
export function envLogFormat(): LogFormat {
  return process.env.GRANARY_LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
}
