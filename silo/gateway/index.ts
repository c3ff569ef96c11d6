/**
 * The HTTP gateway. `createGatewayApp` is the portable Hono app (no Node imports: a Worker
 * can serve it); `startSiloGateway` serves it for a Node silo; `listenNode` serves any app.
 */
export { createGatewayApp, GRANARY_JSON, TIMEOUT_HEADER } from './app.js';
export type { GatewayAppOptions, GatewayBackend, GatewayCall, GatewayLogger, MethodStatus } from './backend.js';
export { CTX_HEADER, CTX_HEADER_PREFIX } from '../../runtime/protocol.js';
export { contextFromHeaders } from './context-headers.js';
export type { ContextHeaderOptions } from './context-headers.js';
export { HttpError, errorBody, errorResponse, statusOf, statusOfBody } from './http-errors.js';
export { toPlainJson } from './plain-json.js';
export { RateLimiter, rateLimit } from './rate-limit.js';
export type { RateLimitOptions, RateLimitMiddlewareOptions } from './rate-limit.js';
export { listenNode, nodeClientKey } from './node-server.js';
export type { NodeGateway, NodeServerOptions } from './node-server.js';
export { defaultClientAddress, subjectOrAddress } from './client-key.js';
export type { ClientAddress } from './client-key.js';
export { nodeClientAddress } from './node-client-address.js';
export type { AuthorizeResult } from './auth.js';
export { siloBackend, startSiloGateway } from './silo-gateway.js';
export type { GatewayOptions } from './silo-gateway.js';
