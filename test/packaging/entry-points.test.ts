/**
 * The package's entry points as an application meets them: the built `dist`, imported by a
 * fresh `node` process from the package root (so `granary` resolves through `exports`).
 * The root exports the curated list and loads no module of NATS, the AWS SDK or dynalite;
 * `granary/internal` and `granary/testing` resolve; `natsCluster()` and `dynamoStorage()`
 * check their options at once and load their client libraries on first use; `GrainClient.http`
 * talks to a real silo's gateway without any NATS code. The Worker face of the root
 * (silo/workers/root.ts) offers the same names minus the Node-only ones.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from 'granary';
import { jsonLogger } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RECORDER = pathToFileURL(join(ROOT, 'test', 'packaging', 'record-loads.mjs')).href;

/** The values `granary` exports: index.ts's list (its types are in api/granary.api.md). */
const ROOT_EXPORTS = [
  'DeadlockError', 'GrainClient', 'GrainError', 'GrainNotFoundError', 'Grain', 'InconsistentStateError',
  'InvalidArgumentError', 'JournaledGrain', 'MethodNotFoundError', 'RequestContext', 'SiloUnavailableError', 'Silo',
  'TableNotFoundError', 'TestCluster', 'TimeoutError', 'TransactionAbortedError', 'TransactionInDoubtError',
  'TransactionalState', 'defineGrains', 'dynamoStorage', 'memoryCluster', 'memoryStorage', 'natsCluster',
  'startEmbeddedDynalite', 'registerJournalPublisher', 'memoryStreams', 'natsStreams', 'tracingFilters',
].sort();

/** Root names a Worker cannot have: they are built on Node (sockets, the file system, NATS). */
const NODE_ONLY = ['GrainClient', 'Silo', 'TestCluster', 'dynamoStorage', 'memoryCluster', 'memoryStorage', 'natsCluster', 'startEmbeddedDynalite', 'memoryStreams', 'natsStreams'];

/**
 * Runs `body` as an ES module in a fresh node, from the package root, with every ES module
 * resolution recorded. In `body`, `heavy()` names the packages of NATS, the AWS SDK and
 * dynalite loaded so far (CommonJS cache and ES modules) and `report(value)` returns `value`
 * to the test.
 */
async function inNode<T>(body: string): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'granary-entry-'));
  const record = join(dir, 'esm-loads.txt');
  const prelude = `
    import { createRequire } from 'node:module';
    import { existsSync, readFileSync } from 'node:fs';
    const PACKAGE = /\\/node_modules\\/((?:@nats-io|@aws-sdk|@smithy)\\/[^/]+|nats|dynalite)\\//;
    const heavy = () => {
      const cjs = Object.keys(createRequire(import.meta.url).cache);
      const esm = existsSync(${JSON.stringify(record)}) ? readFileSync(${JSON.stringify(record)}, 'utf8').split('\\n') : [];
      return [...new Set([...cjs, ...esm].map((p) => PACKAGE.exec(p)?.[1]).filter(Boolean))].sort();
    };
    const report = (value) => console.log('REPORT ' + JSON.stringify(value));
  `;
  try {
    const { stdout } = await run(process.execPath, ['--import', RECORDER, '--input-type=module', '-e', prelude + body], {
      cwd: ROOT,
      env: { ...process.env, GRANARY_LOAD_RECORD: record, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const line = stdout.split('\n').find((l) => l.startsWith('REPORT '));
    if (line === undefined) throw new Error(`the child reported nothing; its output:\n${stdout}`);
    return JSON.parse(line.slice('REPORT '.length)) as T;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Source files (relative) newer than the built root entry (or everything, when there is none). */
function staleOutputs(): string[] {
  const built = join(ROOT, 'dist', 'index.js');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : -1;
  const stale: string[] = [];
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
      return;
    }
    if (path.endsWith('.ts') && !path.endsWith('.d.ts') && statSync(path).mtimeMs > builtAt) stale.push(relative(ROOT, path));
  };
  for (const p of ['index.ts', 'internal.ts', 'testing.ts', 'runtime', 'silo', 'client', 'grains']) visit(join(ROOT, p));
  return stale;
}

/** The dist modules (relative to dist) that package.json's `exports` and `bin` name. */
function entryModules(): Set<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: object; bin: Record<string, string> };
  const targets = new Set<string>(Object.values(pkg.bin).map((b) => b.replace(/^dist\//, '')));
  JSON.stringify(pkg.exports, (_k, v: unknown) => {
    if (typeof v === 'string' && v.startsWith('./dist/') && v.endsWith('.js')) targets.add(v.slice('./dist/'.length));
    return v;
  });
  return targets;
}

/** The `.js` files of the built package (dist without bench/, test/ and worker/), relative to dist. */
function packageModules(): string[] {
  const dist = join(ROOT, 'dist');
  const out: string[] = [];
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      if (!['bench', 'test', 'worker'].includes(relative(dist, path))) for (const entry of readdirSync(path)) visit(join(path, entry));
    } else if (path.endsWith('.js')) out.push(relative(dist, path));
  };
  visit(dist);
  return out.sort();
}

beforeAll(async () => {
  // `npm test` builds first; run alone, this file builds once if the sources are newer.
  // Compiling bench/ (tsconfig.bench.json) leaves a few unbundled helpers in dist: a build clears them.
  const entries = entryModules();
  const unbundled = packageModules().some((m) => !m.startsWith('chunks/') && !entries.has(m));
  if (staleOutputs().length > 0 || unbundled) await run('npm', ['run', 'build'], { cwd: ROOT });
}, 180_000);

describe('granary (the root)', () => {
  it('exports exactly the curated names and loads no NATS, AWS SDK or dynalite module', async () => {
    const r = await inNode<{ names: string[]; heavy: string[]; commonJs: string[] }>(`
      const granary = await import('granary');
      report({ names: Object.keys(granary).sort(), heavy: heavy(), commonJs: Object.keys(createRequire(import.meta.url).cache) });
    `);
    expect(r.names).toEqual(ROOT_EXPORTS);
    expect(r.heavy).toEqual([]);
    // Node loads CommonJS module by module (the reason @opentelemetry/api's ESM build is bundled).
    expect(r.commonJs).toEqual([]);
  });

  it('granary/testing and granary/internal resolve; internal holds the root and the machinery; the old subpaths work', async () => {
    const r = await inNode<Record<string, unknown>>(`
      const granary = await import('granary');
      const testing = await import('granary/testing');
      const internal = await import('granary/internal');
      const [runtime, silo, client] = await Promise.all(['granary/runtime', 'granary/silo', 'granary/client'].map((s) => import(s)));
      report({
        testing: Object.keys(testing).sort(),
        sameTestCluster: testing.TestCluster === granary.TestCluster,
        rootInInternal: Object.keys(granary).filter((n) => internal[n] !== granary[n]),
        machinery: ['Activation', 'Catalog', 'PendingCall', 'encode', 'decode', 'grainId', 'scopeStorage', 'createGatewayApp', 'jsonLogger']
          .filter((n) => internal[n] === undefined),
        subpaths: [typeof runtime.Grain, typeof silo.Silo, typeof client.GrainClient],
        workers: import.meta.resolve('granary/workers'),
        heavy: heavy(),
      });
    `);
    expect(r.testing).toEqual(expect.arrayContaining(['FakeClock', 'TestCluster']));
    expect(r.sameTestCluster).toBe(true);
    expect(r.rootInInternal).toEqual([]);
    expect(r.machinery).toEqual([]);
    expect(r.subpaths).toEqual(['function', 'function', 'function']);
    expect(r.workers).toBe(pathToFileURL(join(ROOT, 'dist', 'silo', 'workers', 'index.js')).href);
    expect(r.heavy).toEqual([]);
  });
});

describe('the built package (deploy/bundle-package.mjs)', () => {
  it('is one module per entry point plus shared chunks: every export and bin, nothing else', () => {
    const targets = entryModules();
    const modules = packageModules();
    expect(modules.filter((m) => !m.startsWith('chunks/')).sort()).toEqual([...targets].sort());
    expect(modules.filter((m) => m.startsWith('chunks/')).length).toBeGreaterThan(0);
  });

  it('shares one copy of the runtime across entry points: a grain class from the root runs on granary/testing and granary/silo', async () => {
    const r = await inNode<Record<string, unknown>>(`
      const { Grain, TestCluster: RootTestCluster, Silo } = await import('granary');
      const { TestCluster } = await import('granary/testing');
      const internal = await import('granary/internal');
      const runtime = await import('granary/runtime');
      const silo = await import('granary/silo');
      class Tally extends Grain {
        initialState() { return { n: 0 }; }
        async add(k) { this.state.n += k; await this.writeState(); return this.state.n; }
      }
      const cluster = await TestCluster.start({ grains: [Tally] });
      try {
        const ref = cluster.client.getGrain(Tally, 'a');
        await ref.add(2);
        report({
          value: await ref.add(3),
          sameGrain: runtime.Grain === Grain && internal.Grain === Grain,
          sameSilo: silo.Silo === Silo && RootTestCluster === TestCluster,
          // A bundle renames self-referring classes (\`class _Silo\`) unless told to keep names.
          names: [Silo.name, TestCluster.name, internal.GrainClient.name, internal.InvalidArgumentError.name, (await import('granary/internal')).Catalog.name],
        });
      } finally {
        await cluster.stop();
      }
    `);
    expect(r).toEqual({ value: 5, sameGrain: true, sameSilo: true, names: ['Silo', 'TestCluster', 'GrainClient', 'InvalidArgumentError', 'Catalog'] });
  });
});

describe('adapters load their client libraries on first use', () => {
  it('natsCluster() refuses bad options at once, and loads NATS on its first connect', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`; // nothing listens there
    const r = await inNode<Record<string, any>>(`
      const { natsCluster, InvalidArgumentError, SiloUnavailableError } = await import('granary');
      const { systemClock } = await import('granary/internal');
      const refusal = (options) => {
        try { natsCluster(options); return 'accepted'; } catch (e) { return { typed: e instanceof InvalidArgumentError, message: e.message }; }
      };
      const badName = refusal({ servers: ${JSON.stringify(url)}, name: 'no spaces' });
      const badTiming = refusal({ servers: ${JSON.stringify(url)}, name: 'probe', heartbeatIntervalMs: 1000, staleAfterMs: 1500 });
      const noServers = refusal({ servers: [], name: 'probe' });
      const provider = natsCluster({ servers: ${JSON.stringify(url)}, name: 'probe' });
      const beforeConnect = heavy();
      const failure = await provider.connect({ clock: systemClock }).then(
        () => 'connected',
        (e) => ({ unavailable: e instanceof SiloUnavailableError, message: e.message }),
      );
      report({ badName, badTiming, noServers, name: provider.name, beforeConnect, failure, afterConnect: heavy() });
    `);
    expect(r.badName).toEqual({ typed: true, message: expect.stringMatching(/^invalid NATS cluster name "no spaces"/) });
    expect(r.badTiming).toEqual({ typed: true, message: expect.stringContaining('staleAfterMs (1500) must be more than twice heartbeatIntervalMs (1000)') });
    expect(r.noServers).toEqual({ typed: true, message: expect.stringContaining('natsCluster needs { servers') });
    expect(r.name).toBe('nats:probe');
    expect(r.beforeConnect).toEqual([]);
    expect(r.failure).toEqual({ unavailable: true, message: expect.stringContaining(`could not connect to NATS at ${url}`) });
    expect(r.afterConnect).toContain('nats');
  });

  it('GrainClient.connect({ nats }) loads NATS only when called', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const r = await inNode<Record<string, any>>(`
      const { GrainClient, SiloUnavailableError } = await import('granary');
      const before = heavy();
      const failure = await GrainClient.connect({ nats: ${JSON.stringify(url)}, cluster: 'probe' }).then(
        () => 'connected',
        (e) => ({ unavailable: e instanceof SiloUnavailableError, message: e.message }),
      );
      report({ before, failure, after: heavy() });
    `);
    expect(r.before).toEqual([]);
    expect(r.failure).toEqual({ unavailable: true, message: expect.stringContaining(`could not connect to NATS at ${url}`) });
    expect(r.after).toContain('nats');
  });

  it('dynamoStorage() refuses bad options at once, and loads the AWS SDK on first use', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const r = await inNode<Record<string, any>>(`
      const { dynamoStorage, SiloUnavailableError, TableNotFoundError } = await import('granary');
      const refusal = (options) => {
        try { dynamoStorage(options); return 'accepted'; } catch (e) { return { name: e.name, message: e.message }; }
      };
      const badTable = refusal({ table: 'x' });
      const badEndpoint = refusal({ table: 'granary', endpoint: 'not a url' });
      const storage = dynamoStorage({ table: 'granary_probe', endpoint: ${JSON.stringify(endpoint)}, region: 'local', maxAttempts: 1 });
      const facts = { name: storage.name, table: storage.table, endpoint: storage.endpoint, tableNotFound: typeof TableNotFoundError };
      const beforeUse = heavy();
      const failure = await storage.ensureTable().then(
        () => 'created',
        (e) => ({ unavailable: e instanceof SiloUnavailableError, message: e.message }),
      );
      const afterUse = heavy();
      await storage.close();
      const closed = await storage.read({ type: 'Counter', key: 'a' }, 'state').then(() => 'read', (e) => e.message);
      report({ badTable, badEndpoint, facts, beforeUse, failure, afterUse, closed });
    `);
    expect(r.badTable).toEqual({ name: 'TypeError', message: expect.stringContaining('dynamoStorage needs { table } naming a DynamoDB table') });
    expect(r.badEndpoint).toEqual({ name: 'TypeError', message: expect.stringContaining('dynamoStorage endpoint is not a URL') });
    expect(r.facts).toEqual({ name: 'dynamodb:granary_probe', table: 'granary_probe', endpoint, tableNotFound: 'function' });
    expect(r.beforeUse).toEqual([]);
    expect(r.failure).toEqual({ unavailable: true, message: expect.stringContaining(`DynamoDB at ${endpoint} is unreachable`) });
    expect(r.afterUse).toContain('@aws-sdk/client-dynamodb');
    expect(r.closed).toBe('storage dynamodb:granary_probe is closed; create a new dynamoStorage(...)');
  });
});

describe('GrainClient.http', () => {
  let silo: Silo;
  beforeAll(async () => {
    silo = await Silo.start({ grains: [Counter], gateway: { port: 0, host: '127.0.0.1' }, logger: jsonLogger({ level: 'error' }) });
  });
  afterAll(async () => {
    await silo?.stop();
  });

  it('calls grains through a real silo gateway with no NATS or AWS SDK module loaded', async () => {
    const r = await inNode<Record<string, unknown>>(`
      const { GrainClient } = await import('granary');
      const client = GrainClient.http(${JSON.stringify(silo.gateway!.url)});
      const counter = client.getGrain('Counter', 'entry-points');
      const added = await counter.add(2);
      const read = await counter.get();
      await client.close();
      report({ added, read, heavy: heavy() });
    `);
    expect(r).toEqual({ added: 2, read: 2, heavy: [] });
  });
});

describe("the Worker face of 'granary' (silo/workers/root.ts)", () => {
  /** The value exports of a module, as esbuild sees them after bundling our own sources. */
  async function exportsOf(entry: string): Promise<string[]> {
    const result = await build({
      entryPoints: [join(ROOT, entry)],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      packages: 'external',
      external: ['cloudflare:*', 'node:*'],
      metafile: true,
      logLevel: 'silent',
    });
    return [...Object.values(result.metafile.outputs)[0]!.exports].sort();
  }

  it('offers the root names minus the Node-only ones, plus the Workers face', async () => {
    const face = await exportsOf('silo/workers/index.ts');
    const expected = [...ROOT_EXPORTS.filter((n) => !NODE_ONLY.includes(n)), ...face].sort();
    expect(await exportsOf('silo/workers/root.ts')).toEqual(expected);
  });
});
