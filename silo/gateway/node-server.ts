/**
 * Serves a gateway app over Node's HTTP server (`@hono/node-server`), with Node's own bounds
 * on what a client may hold: the time to send a request's headers and its whole body
 * (`headersTimeout`, `requestTimeout`: past them, 408 `request_timeout` and the connection is
 * closed), and the number of open connections (`maxConnections`: past it, a new connection
 * is closed at once). The time to *answer* is not bounded here: a slow grain is the
 * caller's deadline's business (`x-granary-timeout-ms`, the silo's response timeout).
 * Closing stops taking connections, lets requests in flight finish (bounded), and closes
 * idle keep-alive sockets.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Context, Env, Hono } from 'hono';
import type { GatewayLogger } from './backend.js';
import { answerClientError } from './client-errors.js';
import { subjectOrAddress } from './client-key.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_MS } from './connection-limits.js';
import { nodeClientAddress } from './node-client-address.js';

const DROP_LOG_INTERVAL_MS = 60_000;

export interface NodeServerOptions {
  port?: number;
  host?: string;
  /** On close, how long requests in flight may take before their connections are closed (default 10 s). */
  closeGraceMs?: number;
  /**
   * Time to receive a whole request, headers and body (default 30 s); past it the client gets
   * 408 `request_timeout` and the connection is closed.
   */
  requestTimeoutMs?: number;
  /**
   * Time to receive a request's headers, and how long a new connection may stay silent
   * (default 10 s, at most `requestTimeoutMs`); past it, 408 as above.
   */
  headersTimeoutMs?: number;
  /** Open connections at most (default 1000); a connection past the cap is closed before anything is read. */
  maxConnections?: number;
  /** Told (at most once a minute) when the cap turns connections away. */
  logger?: GatewayLogger;
}

export interface NodeGateway {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port`, with a loopback host when bound to every interface. */
  readonly url: string;
  /** Stops taking connections; resolves when requests in flight are done (or after `graceMs`, default `closeGraceMs`). */
  close(graceMs?: number): Promise<void>;
}

export async function listenNode<E extends Env>(app: Hono<E>, options: NodeServerOptions): Promise<NodeGateway> {
  const host = options.host ?? '0.0.0.0';
  const limits = serverLimits(options);
  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // How often Node looks for requests past their time (its default, 30 s, would let a
      // trickling body live up to twice its bound).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
      keepAliveTimeout: 5_000,
    },
  }) as Server;
  server.on('clientError', answerClientError(limits));
  server.maxConnections = limits.maxConnections;
  let lastDropLogged = -Infinity;
  server.on('drop', () => {
    const now = Date.now();
    if (now - lastDropLogged < DROP_LOG_INTERVAL_MS) return;
    lastDropLogged = now;
    options.logger?.warn('the gateway is at its connection cap: new connections are closed until some end (GRANARY_MAX_CONNECTIONS)', { maxConnections: limits.maxConnections });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new Error(`gateway port ${options.port ?? 8080} on ${host} is already in use; pick another port (GRANARY_PORT)`, { cause: err })
        : err);
    };
    server.once('error', onError);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    url: `http://${shownHost}:${port}`,
    close(graceMs = options.closeGraceMs ?? 10_000) {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearTimeout(force);
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** The limits with their defaults, checked (Node itself refuses headers > request, less clearly). */
function serverLimits(options: NodeServerOptions): { requestTimeoutMs: number; headersTimeoutMs: number; maxConnections: number } {
  const requestTimeoutMs = positiveInt(options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs');
  const headersTimeoutMs = positiveInt(options.headersTimeoutMs, Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs), 'headersTimeoutMs');
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new TypeError(`gateway headersTimeoutMs (${headersTimeoutMs}) must not exceed requestTimeoutMs (${requestTimeoutMs}): the headers are part of the request`);
  }
  return { requestTimeoutMs, headersTimeoutMs, maxConnections: positiveInt(options.maxConnections, DEFAULT_MAX_CONNECTIONS, 'maxConnections') };
}

function positiveInt(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`gateway ${name} must be a whole number ≥ 1 (got ${v})`);
  return v;
}

/** Rate-limit key for Node without trusted proxies: the `authorize` hook's subject, else the socket's peer address. */
export function nodeClientKey(c: Context): string {
  return peerKey(c);
}
const peerKey = subjectOrAddress(nodeClientAddress());
