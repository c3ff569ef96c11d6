/**
 * Real DynamoDB implementations for tests and benchmarks, each on a free port:
 *  - dynalite in this process, its LevelDB store in a temp dir (or a given one, to reopen it);
 *  - dynalite in its own process (benchmarks: the emulator's CPU is not ours);
 *  - DynamoDB Local, AWS's own emulator: the jar inside the npm package
 *    `amplify-dynamodb-simulator`, run with the machine's `java`, in memory.
 * Every `close()` stops the process or server and removes what it created.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoStorage, startEmbeddedDynalite, type DynamoStorage } from '../../silo/dynamodb/index.js';
import { PortTakenError, freePort, listenerOf, onFreePort } from './ports.js';
export { freePort };

const require = createRequire(import.meta.url);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface DynamoEndpoint {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}


let tableSeq = 0;
/** A table name no other test in this run uses. */
export function uniqueTable(prefix = 'granary_test'): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++tableSeq}`;
}

/** A temp dir removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * dynalite in this process on disk. Without `dir` the store is a fresh temp dir removed on
 * close; with `dir` (to reopen a store) the dir is kept.
 */
export async function startDynalite(options: { dir?: string; port?: number } = {}): Promise<DynamoEndpoint & { dir: string }> {
  const tmp = options.dir === undefined ? tempDir('granary-dynalite-') : undefined;
  const dir = options.dir ?? tmp!.dir;
  const server = await startEmbeddedDynalite({ dir, port: options.port });
  return {
    endpoint: server.endpoint,
    port: server.port,
    dir,
    async close() {
      await server.close();
      tmp?.remove();
    },
  };
}

/**
 * dynalite as its own process, in memory (for benchmarks), on a port it picks itself and
 * reports (its own CLI cannot listen on port 0: it takes 0 for "the default, 4567").
 */
export async function startDynaliteProcess(): Promise<DynamoEndpoint> {
  const main = `const server = require(${JSON.stringify(require.resolve('dynalite'))})({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, '127.0.0.1', () => console.log('dynalite port ' + server.address().port));`;
  const child = spawn(process.execPath, ['-e', main], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const onData = (d: Buffer) => {
      output += String(d);
      const m = /dynalite port (\d+)/.exec(output);
      if (m) { child.stdout!.off('data', onData); child.off('exit', onExit); resolve(Number(m[1])); }
    };
    const onExit = () => reject(new Error(`dynalite exited before listening:\n${output}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { output += String(d); });
    child.once('exit', onExit);
  });
  return managed(child, port, 'dynalite');
}

/** Where the DynamoDB Local jar is, or a clear failure saying what is missing. */
export function dynamoDBLocalDir(): string {
  let pkg: string;
  try {
    pkg = dirname(require.resolve('amplify-dynamodb-simulator/package.json'));
  } catch {
    throw new Error('the npm package amplify-dynamodb-simulator (which ships DynamoDB Local) is not installed; run npm install');
  }
  const dir = join(pkg, 'emulator');
  if (!existsSync(join(dir, 'DynamoDBLocal.jar'))) throw new Error(`DynamoDBLocal.jar not found in ${dir}`);
  return dir;
}

/**
 * DynamoDB Local, in memory, one database for every credential and region (`-sharedDb`), no
 * telemetry. `fastStart` trades peak speed for a quicker JVM start (tests; not benchmarks).
 */
export async function startDynamoDBLocal(options: { fastStart?: boolean } = {}): Promise<DynamoEndpoint> {
  const dir = dynamoDBLocalDir();
  const jvm = options.fastStart === false ? [] : ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto'];
  // It cannot report a port it picked itself: a free port, and another one if that was taken meanwhile.
  return onFreePort((port) => {
    const child = spawn('java', [
      ...jvm, '-Xmx512m', '-Djava.library.path=./DynamoDBLocal_lib', '-jar', 'DynamoDBLocal.jar',
      '-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(port),
    ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    return managed(child, port, 'DynamoDB Local');
  });
}

/** Waits until the process answers ListTables; stops it on close (and if this process exits). */
async function managed(child: ChildProcess, port: number, what: string): Promise<DynamoEndpoint> {
  let output = '';
  child.stdout?.on('data', (d) => { output += String(d); });
  child.stderr?.on('data', (d) => { output += String(d); });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const close = async () => {
    process.off('exit', killOnExit);
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(t);
  };
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'granary', secretAccessKey: 'granary' }, maxAttempts: 1 });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (exited) {
        if (/address already in use|EADDRINUSE/i.test(output)) throw new PortTakenError(port, `${what} exited:\n${output}`);
        throw new Error(`${what} exited before answering on port ${port}:\n${output}`);
      }
      // A server of someone else's on this port (it was taken between freePort and our bind) must not pass for ours.
      const owner = child.pid === undefined ? 'unknown' : listenerOf(port, child.pid);
      if (owner === 'other') throw new PortTakenError(port, `another process listens there, not ${what}`);
      try {
        if (owner === 'none') throw new Error('not listening yet');
        await client.send(new ListTablesCommand({}));
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`${what} did not answer on port ${port} within 60 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await close();
    throw err;
  } finally {
    client.destroy();
  }
  return { endpoint, port, close };
}

/** A DynamoDB storage on a fresh table of `db`, closing both when done (for suites that take a storage factory). */
export async function storageOn(db: DynamoEndpoint, tablePrefix: string): Promise<{ storage: DynamoStorage; close(): Promise<void> }> {
  const storage = dynamoStorage({ table: uniqueTable(tablePrefix), endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
  return {
    storage,
    async close() {
      await storage.close();
      await db.close();
    },
  };
}
