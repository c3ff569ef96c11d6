/**
 * The HTTP gateway. `createGatewayApp` is the portable Hono app (no Node imports: a Worker
 * can serve it); `startSiloGateway` serves it for a Node silo; `listenNode` serves any app.
 */
export { createGatewayApp, GRANARY_JSON, TIMEOUT_HEADER } from './app.js';
export type { GatewayAppOptions, GatewayBackend, GatewayCall, MethodStatus } from './app.js';
export { CTX_HEADER_PREFIX, contextFromHeaders } from './context-headers.js';
export { HttpError, errorBody, statusOf } from './http-errors.js';
export { toPlainJson } from './plain-json.js';
export { RateLimiter } from './rate-limit.js';
export type { RateLimitOptions } from './rate-limit.js';
export { listenNode, nodeClientKey } from './node-server.js';
export type { NodeGateway } from './node-server.js';
export { siloBackend, startSiloGateway } from './silo-gateway.js';
export type { GatewayOptions } from './silo-gateway.js';
