/**
 * The embedded default for development: dynalite (a DynamoDB implementation on LevelDB) in
 * this process, its data on disk under `dir`, so state survives a restart. Talk to it with
 * `dynamoStorage({ table, endpoint })` like to any DynamoDB.
 */
import { mkdirSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

export interface EmbeddedDynaliteOptions {
  /** Directory of the LevelDB store (created if missing), e.g. `./.granary/dynamodb`. */
  dir: string;
  /** TCP port (default 0: a free one). */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`: not reachable from other machines). */
  host?: string;
}

export interface EmbeddedDynalite {
  /** e.g. `http://127.0.0.1:41235`: pass it to `dynamoStorage({ endpoint })`. */
  readonly endpoint: string;
  readonly port: number;
  /** Absolute path of the store. */
  readonly dir: string;
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
  mkdirSync(dir, { recursive: true });
  await probeStore(dir);
  const dynalite = require('dynalite') as DynaliteFactory;
  // Tables become ACTIVE at once (dynalite's default keeps them CREATING for 500 ms).
  const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
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
  await listTables(host, port).catch(async (err: Error) => {
    await closeServer(server).catch(() => undefined);
    throw new Error(`dynalite on ${dir} does not answer: ${err.message}`, { cause: err });
  });
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    dir,
    close: () => (closing ??= closeServer(server)),
  };
}

/** One ListTables over plain HTTP (dynalite checks that a signature is present, not its value). */
function listTables(host: string, port: number): Promise<void> {
  return new Promise<void>((ok, fail) => {
    const req = request({
      host, port, method: 'POST', path: '/', agent: false,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        'x-amz-date': '20200101T000000Z',
        authorization: 'AWS4-HMAC-SHA256 Credential=granary/20200101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        connection: 'close',
      },
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += String(d); });
      res.on('end', () => (res.statusCode === 200 ? ok() : fail(new Error(`ListTables answered ${res.statusCode}: ${body}`))));
    });
    req.on('error', fail);
    req.end('{}');
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((ok, fail) => {
    server.close((err) => (err ? fail(err) : ok()));
    // Idle keep-alive sockets of clients would hold the close; requests in flight finish first.
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
