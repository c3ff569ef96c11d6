/**
 * Request context from HTTP headers. `traceparent` (and `tracestate`) map to the context
 * keys of the same name; every `x-granary-ctx-<name>` header maps to `<name>`.
 *
 * Header names are case-insensitive (and arrive lowercased), so names carry case and
 * non-ASCII characters percent-encoded: `x-granary-ctx-user%49d` is `userId`. A value is
 * parsed as JSON when it parses (`42`, `"alice"`, `{"a":1}`), else taken as the string it is.
 */
import { HttpError } from './http-errors.js';

export const CTX_HEADER_PREFIX = 'x-granary-ctx-';
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const MAX_ENTRIES = 64;

/** The context values the headers carry; undefined when there are none. */
export function contextFromHeaders(headers: Headers): Record<string, unknown> | undefined {
  const entries: [string, unknown][] = [];
  headers.forEach((value, name) => {
    if (!name.startsWith(CTX_HEADER_PREFIX)) return;
    const encoded = name.slice(CTX_HEADER_PREFIX.length);
    let key: string;
    try {
      key = decodeURIComponent(encoded);
    } catch {
      throw new HttpError('invalid_request', `header ${name}: the context name is not valid percent-encoding`);
    }
    if (key === '') throw new HttpError('invalid_request', `header ${name}: the context name is empty`);
    entries.push([key, parseValue(value)]);
  });
  const traceparent = headers.get('traceparent');
  if (traceparent !== null && TRACEPARENT.test(traceparent.trim())) {
    entries.push(['traceparent', traceparent.trim()]);
    const tracestate = headers.get('tracestate');
    if (tracestate !== null) entries.push(['tracestate', tracestate]);
  }
  if (entries.length === 0) return undefined;
  if (entries.length > MAX_ENTRIES) throw new HttpError('invalid_request', `too many request-context headers (${entries.length}; at most ${MAX_ENTRIES})`);
  // fromEntries defines own data properties, so a "__proto__" name stays a plain key.
  return Object.fromEntries(entries);
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
