/**
 * A real HTTP proxy in front of a DynamoDB endpoint that misbehaves on request: answers with
 * a DynamoDB error (throttling, 500), forwards a request but loses its answer, or never
 * answers. It lets tests drive the SDK's retry strategy and our handling of unknown outcomes
 * through real sockets, without mocking the SDK.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do with one request: `op` is the DynamoDB operation, e.g. `PutItem`. */
export type Fault =
  | 'forward'
  /** Forward it, let DynamoDB apply it, then cut the connection before the client sees the answer. */
  | 'lose-answer'
  /** Never answer. */
  | 'hang'
  | { status: number; type: string; message?: string };

export const THROTTLED: Fault = { status: 400, type: 'ProvisionedThroughputExceededException', message: 'The level of configured provisioned throughput for the table was exceeded' };
export const INTERNAL: Fault = { status: 500, type: 'InternalServerError', message: 'Internal server error' };

export interface FaultProxy {
  readonly endpoint: string;
  /** Requests seen, by operation. */
  readonly seen: Map<string, number>;
  /** Decides each request's fate (default: forward everything). */
  decide: (op: string, body: string) => Fault;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const sockets = new Set<import('node:net').Socket>();
  const proxy: FaultProxy = {
    endpoint: '',
    seen: new Map(),
    decide: () => 'forward',
    close: () => new Promise<void>((ok) => {
      for (const s of sockets) s.destroy();
      server.close(() => ok());
    }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      proxy.seen.set(op, (proxy.seen.get(op) ?? 0) + 1);
      const fault = proxy.decide(op, body.toString('utf8'));
      if (fault === 'hang') return;
      if (typeof fault === 'object') {
        res.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`, message: fault.message ?? fault.type }));
        return;
      }
      forward(req, body, target, (upstreamRes, answer) => {
        if (fault === 'lose-answer') {
          req.socket.destroy();
          return;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        res.end(answer);
      }, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  (proxy as { endpoint: string }).endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

function forward(req: IncomingMessage, body: Buffer, target: URL, done: (res: IncomingMessage, answer: Buffer) => void, res: ServerResponse): void {
  const up = request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
  }, (upRes) => {
    const parts: Buffer[] = [];
    upRes.on('data', (c: Buffer) => parts.push(c));
    upRes.on('end', () => done(upRes, Buffer.concat(parts)));
  });
  up.on('error', () => res.destroy());
  up.end(body);
}
