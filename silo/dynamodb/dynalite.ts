/**
 * The embedded default for development: dynalite (a DynamoDB implementation on LevelDB) in
 * this process, its data on disk under `dir`, so state survives a restart. Talk to it with
 * `dynamoStorage({ table, endpoint, credentials })` like to any DynamoDB.
 *
 * dynalite checks that a request is signed, not by whom. Given `credentials`, requests are
 * let through only when their signature verifies with them (sigv4.ts); the container entry
 * point makes a fresh pair at every start, so nothing but its own storage client can use
 * the endpoint, though any local user can reach a loopback port.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { EMULATOR_CREDENTIALS, type AwsCredentialIdentity } from './options.js';
// Loaded when first needed: the root import of granary loads no AWS SDK module (sigv4.ts uses @smithy).
const sigv4 = () => import('./sigv4.js');

export interface EmbeddedDynaliteOptions {
  /** Directory of the LevelDB store (created if missing), e.g. `./.granary/dynamodb`. */
  dir: string;
  /** TCP port (default 0: a free one). */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`: not reachable from other machines). */
  host?: string;
  /**
   * Answer only requests signed with these (SigV4, checked here: dynalite alone accepts any
   * signature). `'random'`: a fresh pair for this start, read it from the result's
   * `credentials`. Omitted: any signed request is served, as by dynalite alone.
   */
  credentials?: AwsCredentialIdentity | 'random';
}

export interface EmbeddedDynalite {
  /** e.g. `http://127.0.0.1:41235`: pass it to `dynamoStorage({ endpoint })`. */
  readonly endpoint: string;
  readonly port: number;
  /** Absolute path of the store. */
  readonly dir: string;
  /** The credentials requests must be signed with (pass them to `dynamoStorage`); undefined: any. */
  readonly credentials: AwsCredentialIdentity | undefined;
  /** Stops serving and closes the store (waits for requests in flight). */
  close(): Promise<void>;
}

type DynaliteFactory = (options: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
interface LevelDb { open(): Promise<void>; close(): Promise<void> }

const require = createRequire(import.meta.url);

export async function startEmbeddedDynalite(options: EmbeddedDynaliteOptions): Promise<EmbeddedDynalite> {
  if (!options || typeof options.dir !== 'string' || options.dir === '') {
    throw new TypeError('startEmbeddedDynalite needs { dir }: the directory to keep the data in, e.g. "./.granary/dynamodb"');
  }
  const dir = resolve(options.dir);
  // Directories made here are the owner's alone (an existing one keeps its mode).
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await probeStore(dir);
  const credentials = options.credentials === 'random' ? randomCredentials() : options.credentials;
  const dynalite = require('dynalite') as DynaliteFactory;
  // Tables become ACTIVE at once (dynalite's default keeps them CREATING for 500 ms).
  const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // Before listening: no request is ever served unchecked.
  if (credentials !== undefined) requireSignature(server, credentials);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', fail);
      ok();
    });
  }).catch(async (err: NodeJS.ErrnoException) => {
    await closeServer(server).catch(() => undefined);
    throw new Error(`dynalite could not listen on ${host}:${options.port ?? 0} (${err.code ?? err.message}); pick another port`, { cause: err });
  });
  const port = (server.address() as AddressInfo).port;
  // dynalite opens its store on the first request; open it now, so the store is locked
  // against other processes (and broken stores show up) before anyone relies on it.
  await listTables(host, port, credentials ?? EMULATOR_CREDENTIALS).catch(async (err: Error) => {
    await closeServer(server).catch(() => undefined);
    throw new Error(`dynalite on ${dir} does not answer: ${err.message}`, { cause: err });
  });
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    dir,
    credentials,
    close: () => (closing ??= closeServer(server)),
  };
}

/** A key id and secret nobody else knows, for one start. */
function randomCredentials(): AwsCredentialIdentity {
  return { accessKeyId: `granary-${randomBytes(10).toString('hex')}`, secretAccessKey: randomBytes(32).toString('base64url') };
}

/** dynalite's largest request body, which it would refuse anyway (413). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/**
 * Puts the signature check in front of dynalite's request handler: the body is read (bounded),
 * the signature verified over it, and only then does dynalite get the request, with the body
 * replayed. A refusal is DynamoDB's 400 with the error type the SDK names its error after.
 */
function requireSignature(server: Server, credentials: AwsCredentialIdentity): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then(async (body) => {
      if (body === undefined) {
        res.writeHead(413, { connection: 'close' }).end();
        req.destroy();
        return;
      }
      const refusal = await (await sigv4()).checkSignature({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, credentials);
      if (refusal !== undefined) {
        const text = JSON.stringify({ __type: `com.amazon.coral.service#${refusal.type}`, message: refusal.message });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) }).end(text);
        return;
      }
      const replay = Object.assign(Readable.from(body.length > 0 ? [body] : []), { headers: req.headers, method: req.method, url: req.url });
      for (const handle of handlers) handle.call(server, replay as unknown as IncomingMessage, res);
    }, () => req.destroy());
  });
}

/** The whole body, or undefined when it is larger than dynalite takes. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** One signed ListTables over plain HTTP. */
async function listTables(host: string, port: number, credentials: AwsCredentialIdentity): Promise<void> {
  const body = '{}';
  const headers = await (await sigv4()).signRequest(credentials, {
    host, port, body,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' },
  });
  return new Promise<void>((ok, fail) => {
    const req = request({
      host, port, method: 'POST', path: '/', agent: false,
      headers: { ...headers, connection: 'close' },
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += String(d); });
      res.on('end', () => (res.statusCode === 200 ? ok() : fail(new Error(`ListTables answered ${res.statusCode}: ${body}`))));
    });
    req.on('error', fail);
    req.end(body);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((ok, fail) => {
    server.close((err) => (err ? fail(err) : ok()));
    // Keep-alive sockets of clients would hold the close: idle ones are closed now, and a busy
    // one (a client polling, e.g. the reminder service) after the response it is serving.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => { res.shouldKeepAlive = false; });
    server.closeIdleConnections?.();
  });
}

/**
 * LevelDB allows one process per store. dynalite would only find out on its first request and
 * then throw where nobody can catch it, so open the store once ourselves first.
 */
async function probeStore(dir: string): Promise<void> {
  const { Level } = createRequire(require.resolve('dynalite'))('level') as { Level: new (dir: string) => LevelDb };
  const db = new Level(dir);
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new Error(`the dynalite store ${dir} is in use by another process (another silo started on the same directory?); stop it or use another directory`, { cause: err });
    }
    throw new Error(`cannot open the dynalite store ${dir}: ${(err as Error).message}`, { cause: err });
  }
  await db.close();
}
