/**
 * Grain transactions: a 2-grain transfer (`client.transaction`: withdraw from one account,
 * deposit to another; each worker its own pair, so no conflicts) at concurrency 1 and 32,
 * beside the bound given by the storage writes the protocol needs for it, done raw in the
 * same run with the same provider: two conditional writes in parallel (the prepares), then a
 * create-only write (the commit record). Throughput and p50/p99, on memory storage and on
 * dynalite (its own process). Also counts the storage writes per committed transaction.
 * Target: ≥ 0.5× the bound in every round. Alternating rounds (ABAB…).
 *
 * Contended: the same transfer among few accounts, pairs drawn at random (seeded:
 * GRANARY_TEST_SEED repeats a run), so transactions conflict and abort (no-wait): committed
 * transfers/s and the abort rate, per round. Aborts and errors are never counted as transfers.
 */
import {
  Grain, GrainClient, Silo, TransactionAbortedError, dynamoStorage, memoryCluster, memoryStorage,
  type StorageProvider, type TransactionalState,
} from 'granary';
import { encode, grainId, jsonLogger } from 'granary/internal';
import { fmtRate, figure, heading, median, percentile, row } from './support.js';
import { startDynaliteProcess } from '../test/support/dynamodb.js';
import { workloadRandom } from '../test/support/random.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

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

interface Round { rate: number; lat: number[]; cpuUs: number; aborted: number; errors: number; firstError?: unknown }

/**
 * `workers` loops doing `op(w)` for `ms`: completed ops/s and their latencies (ms); aborted
 * transactions and other failures are counted apart, never as work.
 */
async function measure(workers: number, ms: number, op: (w: number) => Promise<void>): Promise<Round> {
  const lat: number[] = [];
  let aborted = 0;
  let errors = 0;
  let firstError: unknown;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await op(w);
        lat.push(performance.now() - s);
      } catch (err) {
        if (err instanceof TransactionAbortedError) aborted++;
        else { errors++; firstError ??= err; }
      }
    }
  }));
  const cpu = process.cpuUsage(cpu0);
  const done = Math.max(1, lat.length);
  return { rate: lat.length / ((performance.now() - t0) / 1000), lat, cpuUs: (cpu.user + cpu.system) / done, aborted, errors, firstError };
}

/** Prints what failed in `rounds` (nothing when nothing did). */
function failures(label: string, rounds: Round[]): void {
  const aborted = rounds.reduce((n, r) => n + r.aborted, 0);
  const errors = rounds.reduce((n, r) => n + r.errors, 0);
  if (aborted + errors === 0) return;
  const first = rounds.find((r) => r.firstError !== undefined)?.firstError;
  console.log(`${''.padEnd(44)} ${label}: ${aborted} aborted, ${errors} failed (not counted)${first ? `; first failure: ${String(first)}` : ''}`);
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
  row({ label: `${storageName} c${concurrency}: transfer`, value: fmtRate(median(t.map((x) => x.rate))), limitLabel: '3 raw writes (2 ∥ + 1)', limit: fmtRate(median(r.map((x) => x.rate))), ratios, atLeast: 0.5 });
  console.log(`${''.padEnd(44)} p50 ${percentile(tl, 50).toFixed(2)} ms, p99 ${percentile(tl, 99).toFixed(2)} ms   vs raw p50 ${percentile(rl, 50).toFixed(2)} ms, p99 ${percentile(rl, 99).toFixed(2)} ms;  storage writes per transaction: ${(writes / committed).toFixed(2)}`);
  console.log(`${''.padEnd(44)} CPU of this process per op: ${(median(t.map((x) => x.cpuUs)) / 1000).toFixed(3)} ms vs ${(median(r.map((x) => x.cpuUs)) / 1000).toFixed(3)} ms`);
  row({ label: `${storageName} c${concurrency}: transfer`, value: fmtRate(median(t.map((x) => x.rate))), limitLabel: 'same 2 calls, no transaction', limit: fmtRate(median(pl.map((x) => x.rate))), ratios: plainRatios });
  failures('transfers', t);
  failures('raw writes', r);
  failures('plain calls', pl);
  await client.close();
  await silo.stop();
}


/**
 * Transfers among `accounts` accounts from `workers` loops, each between two accounts drawn at
 * random: conflicts abort (no-wait) and the worker goes on with another pair. Committed
 * transfers/s and the abort rate (aborted / attempted), per round.
 */
async function contended(storageName: string, storage: StorageProvider, o: { accounts: number; workers: number; ms: number; rounds: number }): Promise<void> {
  const cluster = memoryCluster();
  const silo = await Silo.start({ grains: [Account], cluster, storage, logger: jsonLogger({ level: 'error' }) });
  const client = await GrainClient.connect({ cluster });
  const tag = `${storageName.replace(/\W/g, '')}-hot-${Date.now().toString(36)}`;
  const refs = Array.from({ length: o.accounts }, (_, i) => client.getGrain(Account, `${tag}-${i}`));
  await client.transaction(async () => { for (const a of refs) await a.deposit(1e9); });
  const random = workloadRandom(`transactions: contended ${storageName}`);
  const transfer = async () => {
    const i = Math.floor(random() * refs.length);
    const j = (i + 1 + Math.floor(random() * (refs.length - 1))) % refs.length;
    await client.transaction(async () => {
      await refs[i]!.withdraw(1);
      await refs[j]!.deposit(1);
    });
  };
  await measure(o.workers, o.ms / 2, transfer);
  const rounds: Round[] = [];
  for (let i = 0; i < o.rounds; i++) rounds.push(await measure(o.workers, o.ms, transfer));
  const label = `${storageName}: ${o.accounts} accounts, ${o.workers} workers`;
  figure(`${label}: committed transfers`, rounds.map((r) => r.rate), { fmt: fmtRate });
  figure(`${label}: abort rate`, rounds.map((r) => r.aborted / Math.max(1, r.aborted + r.lat.length + r.errors)), { fmt: (x) => `${(x * 100).toFixed(1)} %` });
  const lat = rounds.flatMap((r) => r.lat);
  console.log(`${''.padEnd(44)} committed p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms; ${rounds.reduce((n, r) => n + r.errors, 0)} failed otherwise (not counted)`);
  const total = (await Promise.all(refs.map((a) => a.balance()))).reduce((x, y) => x + y, 0);
  if (total !== o.accounts * 1e9) throw new Error(`money was made or lost under contention: total ${total}, expected ${o.accounts * 1e9}`);
  await client.close();
  await silo.stop();
}

const quick = process.argv.includes('--quick');
const opts = { ms: quick ? 400 : 1_000, rounds: quick ? 3 : 5 };
const hot = { accounts: 4, workers: 16, ...opts };
heading('transactions: 2-grain transfer vs the raw conditional writes it needs (target ≥ 0.5× in every round)');
for (const c of [1, 32]) await bench('memory', memoryStorage(), c, opts);
const db = await startDynaliteProcess();
const storage = dynamoStorage({ table: 'granary_txn_bench', endpoint: db.endpoint, region: 'local' });
try {
  await storage.ensureTable();
  for (const c of [1, 32]) await bench('dynalite', storage, c, opts);
  heading(`transactions under contention: transfers among ${hot.accounts} accounts from ${hot.workers} workers (medians and min–max of ${hot.rounds} rounds)`);
  await contended('memory', memoryStorage(), hot);
  await contended('dynalite', storage, hot);
} finally {
  await storage.close();
  await db.close();
}
