/**
 * Grain transactions: a 2-grain transfer (`client.transaction`: withdraw from one account,
 * deposit to another; each worker its own pair, so no conflicts) at concurrency 1 and 32,
 * beside the bound given by the storage writes the protocol needs for it, done raw in the
 * same run with the same provider: two conditional writes in parallel (the prepares), then a
 * create-only write (the commit record). Throughput and p50/p99, on memory storage and on
 * dynalite (its own process). Also counts the storage writes per committed transaction.
 * Target: ≥ 0.5× the bound. Alternating rounds (ABAB…), medians.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  Grain, GrainClient, Silo, dynamoStorage, memoryCluster, memoryStorage,
  type StorageProvider, type TransactionalState,
} from 'granary';
import { encode, grainId, jsonLogger } from 'granary/internal';
import { fmtRate, heading, median, percentile, row } from './support.js';
import { freePort } from '../test/support/ports.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const require = createRequire(import.meta.url);

/** The sample Account (grains/account.ts), declared here so the bench imports granary only once. */
class Account extends Grain {
  static grainType = 'Account';
  static transactions = { deposit: 'join', withdraw: 'join', balance: 'createOrJoin' } as const;
  private readonly bal: TransactionalState<number> = this.transactionalState('balance', () => 0);
  async deposit(n: number) { await this.bal.update((b) => b + n); }
  async withdraw(n: number) { await this.bal.update((b) => { if (b < n) throw new Error('insufficient funds'); return b - n; }); }
  async balance(): Promise<number> { return this.bal.read(); }
}

/** The same two operations without a transaction: plain state, one conditional write per call. */
class PlainAccount extends Grain<{ balance: number }> {
  static grainType = 'PlainAccount';
  protected override initialState() { return { balance: 0 }; }
  async deposit(n: number) { this.state.balance += n; await this.writeState(); }
  async withdraw(n: number) {
    if (this.state.balance < n) throw new Error('insufficient funds');
    this.state.balance -= n;
    await this.writeState();
  }
}

function counting(inner: StorageProvider): { storage: StorageProvider; writes(): number } {
  let writes = 0;
  return {
    writes: () => writes,
    storage: {
      name: inner.name,
      read: (id, n) => inner.read(id, n),
      write: (id, n, p, e) => { writes++; return inner.write(id, n, p, e); },
      clear: (id, n, e) => { writes++; return inner.clear(id, n, e); },
    },
  };
}

interface Round { rate: number; lat: number[]; cpuUs: number }

/** `workers` loops doing `op(w)` for `ms`; ops/s and every latency (ms). */
async function measure(workers: number, ms: number, op: (w: number) => Promise<void>): Promise<Round> {
  const lat: number[] = [];
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (performance.now() < end) {
      const s = performance.now();
      await op(w);
      lat.push(performance.now() - s);
      done++;
    }
  }));
  const cpu = process.cpuUsage(cpu0);
  return { rate: done / ((performance.now() - t0) / 1000), lat, cpuUs: (cpu.user + cpu.system) / done };
}

async function bench(storageName: string, inner: StorageProvider, concurrency: number, options: { ms: number; rounds: number }): Promise<void> {
  const counted = counting(inner);
  const cluster = memoryCluster();
  const silo = await Silo.start({ grains: [Account, PlainAccount], cluster, storage: counted.storage, logger: jsonLogger({ level: 'error' }) });
  const client = await GrainClient.connect({ cluster });
  const tag = `${storageName.replace(/\W/g, '')}${concurrency}-${Date.now().toString(36)}`;
  const pairs = Array.from({ length: concurrency }, (_, w) => [`a-${tag}-${w}`, `b-${tag}-${w}`] as const);
  for (const [a, b] of pairs) {
    await client.transaction(async () => {
      await client.getGrain(Account, a).deposit(1e9);
      await client.getGrain(Account, b).deposit(1e9);
    });
  }
  const refs = pairs.map(([a, b]) => [client.getGrain(Account, a), client.getGrain(Account, b)] as const);
  let flip = 0;
  const transfer = async (w: number) => {
    const [a, b] = refs[w]!;
    const [from, to] = (flip++ & 1) === 0 ? [a, b] : [b, a];
    await client.transaction(async () => {
      await from.withdraw(1);
      await to.deposit(1);
    });
  };

  // For reference: the same two calls without a transaction (2 calls, 2 writes).
  const plainRefs = pairs.map(([a, b]) => [client.getGrain(PlainAccount, a), client.getGrain(PlainAccount, b)] as const);
  for (const [a, b] of plainRefs) { await a.deposit(1e9); await b.deposit(1e9); }
  const plain = async (w: number) => {
    const [a, b] = plainRefs[w]!;
    const [from, to] = (flip++ & 1) === 0 ? [a, b] : [b, a];
    await from.withdraw(1);
    await to.deposit(1);
  };

  // The raw bound: the same writes, same shape and sizes, straight to the provider.
  const sample = encode({ v: 1e9, n: 12345, p: { t: 'mwtk3l0q7x8e2r5t9y1u3i', v: 1e9 - 1, dl: Date.now() } });
  const etags = pairs.map(() => [undefined, undefined] as (string | undefined)[]);
  let rec = 0;
  const raw = async (w: number) => {
    const e = etags[w]!;
    const [x, y] = await Promise.all([0, 1].map((i) => inner.write(grainId('BenchRaw', `${tag}-${w}-${i}`), 'txn:balance', sample, e[i])));
    e[0] = x; e[1] = y;
    await inner.write(grainId('$bench', `${tag}-${rec++}`), 'record', '{"s":"committed","at":1}', undefined);
  };

  for (let i = 0; i < 2; i++) {
    await measure(concurrency, options.ms / 2, transfer);
    await measure(concurrency, options.ms / 2, raw);
    await measure(concurrency, options.ms / 2, plain);
  }
  const t: Round[] = [];
  const r: Round[] = [];
  const pl: Round[] = [];
  const ratios: number[] = [];
  const plainRatios: number[] = [];
  let writes = 0;
  let committed = 0;
  for (let i = 0; i < options.rounds; i++) {
    const w0 = counted.writes();
    const a = await measure(concurrency, options.ms, transfer);
    writes += counted.writes() - w0;
    committed += a.lat.length;
    const b = await measure(concurrency, options.ms, raw);
    const p = await measure(concurrency, options.ms, plain);
    t.push(a); r.push(b); pl.push(p); ratios.push(a.rate / b.rate); plainRatios.push(a.rate / p.rate);
  }
  const all = (xs: Round[]) => xs.flatMap((x) => x.lat);
  const tl = all(t);
  const rl = all(r);
  row(`${storageName} c${concurrency}: transfer`, fmtRate(median(t.map((x) => x.rate))), '3 raw writes (2 ∥ + 1)', fmtRate(median(r.map((x) => x.rate))), median(ratios), 0.5);
  console.log(`${''.padEnd(44)} p50 ${percentile(tl, 50).toFixed(2)} ms, p99 ${percentile(tl, 99).toFixed(2)} ms   vs raw p50 ${percentile(rl, 50).toFixed(2)} ms, p99 ${percentile(rl, 99).toFixed(2)} ms;  storage writes per transaction: ${(writes / committed).toFixed(2)}`);
  console.log(`${''.padEnd(44)} CPU of this process per op: ${(median(t.map((x) => x.cpuUs)) / 1000).toFixed(3)} ms vs ${(median(r.map((x) => x.cpuUs)) / 1000).toFixed(3)} ms`);
  row(`${storageName} c${concurrency}: transfer`, fmtRate(median(t.map((x) => x.rate))), 'same 2 calls, no transaction', fmtRate(median(pl.map((x) => x.rate))), median(plainRatios));
  await client.close();
  await silo.stop();
}


/** dynalite in its own process (its CPU is not this process's), in memory. */
async function dynalite(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const port = await freePort();
  const cli = join(dirname(require.resolve('dynalite')), 'cli.js');
  const child = spawn(process.execPath, [cli, '--port', String(port), '--host', '127.0.0.1', '--createTableMs', '0'], { stdio: 'ignore' });
  process.once('exit', () => child.kill('SIGKILL'));
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'granary', secretAccessKey: 'granary' }, maxAttempts: 1 });
  for (const deadline = Date.now() + 30_000; ;) {
    try { await probe.send(new ListTablesCommand({})); break; } catch {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('dynalite did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.destroy();
  return { endpoint, stop: () => new Promise<void>((ok) => { child.once('exit', () => ok()); child.kill('SIGTERM'); }) };
}

heading('transactions: 2-grain transfer vs the raw conditional writes it needs (target ≥ 0.5×)');
const quick = process.argv.includes('--quick');
const opts = { ms: quick ? 400 : 1_000, rounds: quick ? 3 : 5 };
for (const c of [1, 32]) await bench('memory', memoryStorage(), c, opts);
const db = await dynalite();
const storage = dynamoStorage({ table: 'granary_txn_bench', endpoint: db.endpoint, region: 'local' });
await storage.ensureTable();
for (const c of [1, 32]) await bench('dynalite', storage, c, opts);
await storage.close();
await db.stop();
