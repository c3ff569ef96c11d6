/**
 * Serves a gateway app over Node's HTTP server (`@hono/node-server`). Closing stops taking
 * connections, lets requests in flight finish (bounded), and closes idle keep-alive sockets.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Env, Hono } from 'hono';

export interface NodeGateway {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port`, with a loopback host when bound to every interface. */
  readonly url: string;
  /** Stops taking connections; resolves when requests in flight are done (or after `graceMs`, default `closeGraceMs`). */
  close(graceMs?: number): Promise<void>;
}

export async function listenNode<E extends Env>(app: Hono<E>, options: { port?: number; host?: string; closeGraceMs?: number }): Promise<NodeGateway> {
  const host = options.host ?? '0.0.0.0';
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // A request waiting for a slow grain must not be cut by Node's defaults; the gateway has its own deadlines.
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
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

/** Rate-limit key for Node: the bearer credentials if any, else the peer address. */
export function nodeClientKey(c: Context): string {
  const auth = c.req.header('authorization');
  if (auth !== undefined) return auth;
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
