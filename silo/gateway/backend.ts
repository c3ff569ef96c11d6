/** What the gateway app needs from whatever hosts the grains (a silo, a Worker), and its options. */
import type { Context } from 'hono';
import type { DecodeOptions } from '../../runtime/codec.js';
import type { CallDeadline } from '../../runtime/pending-call.js';
import type { GrainType } from '../../runtime/grain-type.js';
import type { TraceCarrier } from '../../runtime/features/tracing/w3c.js';
import type { Admin } from '../admin.js';
import type { DashboardFeed } from './dashboard.js';
import type { AuthorizeResult } from './auth.js';
import type { ClientAddress } from './client-key.js';
import type { RateLimitOptions } from './rate-limit.js';
import type { GatewayStreams } from './streams.js';
import type { GatewayReminders } from './reminders.js';

export interface GatewayCall {
  type: string;
  key: string;
  method: string;
  args: unknown[];
  /** Request-context values from the headers. */
  context: Record<string, unknown> | undefined;
  /**
   * The caller's deadline (`x-granary-timeout-ms`), when it set one: a backend that hands it
   * to its router keeps the gateway from answering 504 for a turn that has begun a state
   * write (docs/storage.md, "Deadlines and state writes"); one that ignores it loses only that.
   */
  deadline?: CallDeadline;
  /** The call's id from an `Idempotency-Key` header (docs/exactly-once.md); undefined: the router gives a fresh one. */
  callId?: string;
  /** The trace context to continue (W3C `traceparent`), when the request carried one. */
  trace?: TraceCarrier;
  /** Told the context of the span the backend made for the call (the response's `traceparent`). */
  onTrace?(carrier: TraceCarrier): void;
}

/**
 * Whether a method can be called: known callable, known not callable, no such grain type
 * anywhere, or up to the cluster (a type another host knows).
 */
export type MethodStatus = 'callable' | 'not_callable' | 'no_such_type' | 'unknown';

export interface GatewayBackend {
  /** Runs a call; rejects with a `GrainError` (its `code`, or its chosen `status`, picks the HTTP status). */
  invoke(call: GatewayCall): Promise<unknown>;
  /** `unknown` for types this host does not know: the call goes out and the cluster answers. */
  methodStatus(type: string, method: string): MethodStatus;
  /** Joined and serving (false while starting or draining). */
  ready(): boolean;
  /** Prometheus text; absent: `/metrics` is 404. */
  metrics?(): string;
  /** Called once per grain call that reached `invoke`. */
  recordCall?(type: string, method: string, outcome: string, seconds: number, namesKnown: boolean, key?: string): void;
  /** Rebuilds grain references in codec-encoded arguments. */
  ref?: DecodeOptions['ref'];
  /** The management API (`/admin/*`), when this host has one; absent (or undefined): 404. */
  admin?(): Admin | undefined;
  /** The live dashboard's data (`/dashboard`), when this host has one; absent (or undefined): 404. */
  dashboard?(): DashboardFeed | undefined;
  /** The grain types this host serves (what `GET /openapi.json` describes); absent: 404. */
  types?(): readonly GrainType[];
  /** Publishing and following streams (`/streams/:namespace/:key`); absent: those routes are 404. */
  streams?: GatewayStreams;
  /** A grain's durable reminders (`GET /admin/reminders?grain=Type/key`); absent: 404. */
  reminders?: GatewayReminders;
}

/** Where the gateway reports what callers should fix but that does not fail the request. */
export interface GatewayLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface GatewayAppOptions {
  /** Largest request body in bytes (default 1 MiB); larger → 413. */
  maxBodyBytes?: number;
  /**
   * Bearer token required on `/grains/*` and `/metrics` (probes stay open). RFC 6750
   * characters only: letters, digits and `-._~+/`, optionally ending in `=`.
   */
  token?: string;
  /**
   * Auth hook, after the token check: false (or "") → 403; true admits; a non-empty string
   * admits and names the caller (its subject), whom the rate limit then counts against.
   */
  authorize?(req: Request): AuthorizeResult | Promise<AuthorizeResult>;
  /** Per-client rate limit on `/grains/*`; over it → 429 with `retry-after`. */
  rateLimit?: RateLimitOptions;
  /**
   * The client's address, for the rate limit when the hook named no subject. Default: the
   * socket's peer under @hono/node-server, `cf-connecting-ip` on Workers. A silo's gateway
   * reads `x-forwarded-for` from its `trustedProxies` only.
   */
  clientAddress?: ClientAddress;
  /**
   * Who a request counts against for the rate limit, replacing the rule above (the hook's
   * subject, else the client's address). Never key on anything a client can vary.
   */
  clientKey?(c: Context): string;
  /** Cap on `x-granary-timeout-ms` (default 5 minutes). */
  maxTimeoutMs?: number;
  /** Warnings about requests (context headers that lose information); default: `console.warn`. */
  logger?: GatewayLogger;
}
