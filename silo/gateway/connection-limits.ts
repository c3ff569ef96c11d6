/**
 * Defaults of what a client may hold on a Node gateway (node-server.ts), in a module of their
 * own so the container's configuration (silo/config.ts, also bundled into Workers) can name
 * them without importing the Node server.
 */

/** Time to receive a whole request, headers and body. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Time to receive a request's headers (and for a new connection to start one); never above the request timeout. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Open connections at most. */
export const DEFAULT_MAX_CONNECTIONS = 1_000;
