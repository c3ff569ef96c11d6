/**
 * The protocol's names, in one place: what travels on the wire and over HTTP, and the method
 * names the runtime reserves. Hosts, clients and features import these; none spells them.
 */

/** The codec's media type: bodies in the tagged form (Dates, BigInts, Maps, bytes, refs). */
export const GRANARY_JSON = 'application/vnd.granary+json';

/** How long the HTTP caller waits, in milliseconds (capped by the gateway). */
export const TIMEOUT_HEADER = 'x-granary-timeout-ms';

/** `x-granary-ctx-<name>`: one request-context value per header (names are lower-cased by HTTP). */
export const CTX_HEADER_PREFIX = 'x-granary-ctx-';

/** `x-granary-ctx`: the whole request context as one JSON object, names kept exactly. */
export const CTX_HEADER = 'x-granary-ctx';

/**
 * Method names starting with `$` are the runtime's own messages (`$txn.prepare`, …): never
 * a grain method, never accepted from the HTTP gateway. The character code, for hot paths.
 */
export const RESERVED_METHOD_PREFIX = '$';
export const RESERVED_METHOD_CHAR = 36; // '$'

/** Whether `method` names a runtime message rather than a grain method. */
export function isReservedMethod(method: string): boolean {
  return method.charCodeAt(0) === RESERVED_METHOD_CHAR;
}

/**
 * Members of a grain class that are never callable: the constructor and the lifecycle hooks
 * (those a feature adds, such as `receiveReminder` or stream handlers, included).
 */
export const LIFECYCLE_METHODS: ReadonlySet<string> = new Set([
  'constructor', 'onActivate', 'onDeactivate', 'initialState', 'receiveReminder', 'onStreamItem', 'apply',
]);
