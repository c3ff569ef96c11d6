/**
 * Request context from HTTP headers.
 *
 * - `x-granary-ctx: {"userId": "u-1", "tenant": {"id": 7}}`: the whole context as one JSON
 *   object, names exactly as written. This is what `GrainClient.http` sends.
 * - `x-granary-ctx-<name>: <value>`: one value per header. Header names are case-insensitive
 *   and arrive lower-cased, so `x-granary-ctx-userId` is the name `userid`; capitals and
 *   non-ASCII characters survive only percent-encoded (`x-granary-ctx-user%49d` is `userId`).
 *   A value is parsed as JSON when it parses (`42`, `"alice"`, `{"a":1}`), else taken as
 *   the string it is.
 * - `traceparent` (when valid W3C) and its `tracestate` map to the keys of the same name.
 *
 * For the same name the JSON header wins over a per-name header, and `traceparent` over both.
 * What loses information without failing the request (a per-name header beside the JSON
 * header, a value with non-ASCII bytes) is reported through `warn`.
 */
import { CTX_HEADER, CTX_HEADER_PREFIX } from '../../runtime/protocol.js';
import { HttpError } from './http-errors.js';

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const MAX_ENTRIES = 64;
const EXAMPLE = `${CTX_HEADER}: {"userId":"u-1"}`;

export interface ContextHeaderOptions {
  /** Told about headers that lose information; `subject` is the context name or header it concerns. */
  warn?(subject: string, message: string): void;
}

/** The context values the headers carry; undefined when there are none. */
export function contextFromHeaders(headers: Headers, options: ContextHeaderOptions = {}): Record<string, unknown> | undefined {
  const warn = options.warn ?? (() => undefined);
  const perName: [key: string, value: unknown, header: string][] = [];
  headers.forEach((value, name) => {
    if (!name.startsWith(CTX_HEADER_PREFIX)) return;
    const key = nameOf(name);
    if (hasNonAscii(value)) {
      warn(name, `header ${name} holds non-ASCII bytes, taken as they arrived; escape them in JSON (\\u00e9) or send the context as ${EXAMPLE}`);
    }
    perName.push([key, parseValue(value), name]);
  });

  const json = headers.get(CTX_HEADER);
  const fromJson = json === null ? undefined : parseContextJson(json);
  if (fromJson !== undefined) {
    if (hasNonAscii(json!)) warn(CTX_HEADER, `header ${CTX_HEADER} holds non-ASCII bytes, taken as they arrived; escape them in the JSON (\\u00e9)`);
    for (const [key, , header] of perName) {
      warn(key, `context "${key}" came from header ${header} beside ${CTX_HEADER}; per-name headers lose capitals (${header} is "${key}"): put every value in the ${CTX_HEADER} JSON object`);
    }
  }

  const entries: [string, unknown][] = perName.map(([key, value]) => [key, value]);
  if (fromJson !== undefined) entries.push(...Object.entries(fromJson));
  const traceparent = headers.get('traceparent');
  if (traceparent !== null && TRACEPARENT.test(traceparent.trim())) {
    entries.push(['traceparent', traceparent.trim()]);
    const tracestate = headers.get('tracestate');
    if (tracestate !== null) entries.push(['tracestate', tracestate]);
  }
  if (entries.length === 0) return undefined;
  // fromEntries defines own data properties, so a "__proto__" name stays a plain key; later entries win.
  const context = Object.fromEntries(entries);
  const count = Object.keys(context).length;
  if (count > MAX_ENTRIES) throw new HttpError('invalid_request', `too many request-context values (${count}; at most ${MAX_ENTRIES})`);
  return context;
}

/** The context name a per-name header carries: the rest of the header name, percent-decoded. */
function nameOf(header: string): string {
  let key: string;
  try {
    key = decodeURIComponent(header.slice(CTX_HEADER_PREFIX.length));
  } catch {
    throw new HttpError('invalid_request', `header ${header}: the context name is not valid percent-encoding; or send the context as ${EXAMPLE}`);
  }
  if (key === '') throw new HttpError('invalid_request', `header ${header}: the context name is empty`);
  return key;
}

function parseContextJson(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError('invalid_request', `header ${CTX_HEADER} is not valid JSON (${(err as Error).message}): send one JSON object of context values in one header, e.g. ${EXAMPLE}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const got = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new HttpError('invalid_request', `header ${CTX_HEADER} must be a JSON object of context values, e.g. ${EXAMPLE} (got ${got})`);
  }
  if (Object.hasOwn(parsed, '')) throw new HttpError('invalid_request', `header ${CTX_HEADER}: a context name is empty; give every value a name, e.g. ${EXAMPLE}`);
  return parsed as Record<string, unknown>;
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return true;
  return false;
}
