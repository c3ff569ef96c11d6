/**
 * DynamoDB grain storage beside raw SDK calls, on dynalite (its own process) and on
 * DynamoDB Local (AWS's jar, its own JVM):
 *  - cold activation: a call to a grain whose state exists but which is not active (a
 *    GetItem through the silo: directory, activation, read, decode, the call) beside a raw
 *    GetItem of the same items with the provider's own client; concurrency 1 and 32;
 *  - writeState: `add(1)` on active grains (one conditional PutItem each) beside a raw
 *    conditional PutItem on the same number of items; concurrency 1 and 32.
 * Target: ≥ 0.8× raw in every round. Pairs run in alternating rounds (ABAB…); medians and
 * min–max of 9 rounds (BENCH_ROUNDS, BENCH_MS: shorter runs).
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Grain, Silo, dynamoStorage, type DynamoStorage } from 'granary';
import { CALL_LOG_SIZE, grainId, jsonLogger } from 'granary/internal';
import { fmtRate, heading, median, row } from './support.js';
import { startDynaliteProcess, startDynamoDBLocal, type DynamoEndpoint } from '../test/support/dynamodb.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The sample Counter's shape, declared here so the bench imports granary only once. */
class Counter extends Grain<{ value: number }> {
  static grainType = 'Counter';
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> { this.state.value += n; await this.writeState(); return this.state.value; }
  async get(): Promise<number> { return this.state.value; }
}

interface Emulator { name: string; endpoint: string; stop(): Promise<void> }

/** An emulator of test/support/dynamodb.ts (its own process; a port it is sure to own). */
async function emulator(name: string, start: () => Promise<DynamoEndpoint>): Promise<Emulator> {
  const db = await start();
  return { name, endpoint: db.endpoint, stop: () => db.close() };
}

const dynaliteProcess = () => emulator('dynalite (own process)', startDynaliteProcess);
/** Full JIT (fastStart off): the figures are the emulator at its speed, not its start. */
const dynamoDBLocal = () => emulator('DynamoDB Local', () => startDynamoDBLocal({ fastStart: false }));

interface Side { name: string; ops: number; batch: () => Promise<void> }

/**
 * Like support.ts's `paired` (alternating rounds, so drifting load hits both sides alike), after
 * a longer warm-up, and also reporting this process's CPU per operation: the SDK's CPU is the
 * bottleneck against a local emulator, and CPU per operation is steadier than rates on a
 * machine whose load changes.
 */
async function pairedWithCpu(a: Side, b: Side, options: { ms: number; rounds: number }) {
  const measure = async (x: Side) => {
    let done = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < options.ms) { await x.batch(); done += x.ops; t = performance.now(); }
    const cpu = process.cpuUsage(cpu0);
    return { rate: done / ((t - t0) / 1000), cpuUs: (cpu.user + cpu.system) / done };
  };
  for (let i = 0; i < 2; i++) { await measure(a); await measure(b); }
  const ra: number[] = [], rb: number[] = [], ratios: number[] = [], ca: number[] = [], cb: number[] = [];
  for (let i = 0; i < options.rounds; i++) {
    const x = await measure(a);
    const y = await measure(b);
    ra.push(x.rate); rb.push(y.rate); ratios.push(x.rate / y.rate); ca.push(x.cpuUs); cb.push(y.cpuUs);
  }
  return { a: median(ra), b: median(rb), ratio: median(ratios), ratios, cpuA: median(ca), cpuB: median(cb) };
}

function report(label: string, limitLabel: string, r: Awaited<ReturnType<typeof pairedWithCpu>>, atLeast = 0.8): void {
  row({ label, value: fmtRate(r.a), limitLabel, limit: fmtRate(r.b), ratios: r.ratios, atLeast });
  console.log(`${''.padEnd(44)} CPU here per op: ${(r.cpuA / 1000).toFixed(2)} ms vs ${(r.cpuB / 1000).toFixed(2)} ms`);
}

const SEEDED = 6_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const MS = Number(process.env.BENCH_MS ?? 500);
const TABLE = 'granary_bench';
const pkOf = (key: string) => `Counter/${key}#state`;

/** Stores `{value: 1}` for keys `cold-0 … cold-(n-1)`, as the provider would have. */
async function seed(storage: DynamoStorage, n: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let i = next++; i < n; i = next++) await storage.write(grainId('Counter', `cold-${i}`), 'state', '{"value":1}', undefined);
  }));
}

/** Hands out grain keys never activated on the current silo; a fresh silo when they run out. */
class ColdKeys {
  private cursor = 0;
  private silo!: Silo;
  private spare!: Promise<Silo>;
  constructor(private readonly storage: DynamoStorage) {}
  private start(): Promise<Silo> {
    return Silo.start({ grains: [Counter], storage: this.storage, logger: jsonLogger({ level: 'error' }) });
  }
  async init(): Promise<void> {
    this.silo = await this.start();
    this.spare = this.start();
  }
  /** `n` cold grains: the silo to call and the keys. */
  async take(n: number): Promise<{ silo: Silo; keys: string[] }> {
    if (this.cursor + n > SEEDED) {
      const old = this.silo;
      this.silo = await this.spare;
      this.spare = this.start();
      this.cursor = 0;
      void old.stop();
    }
    const keys = Array.from({ length: n }, (_, i) => `cold-${this.cursor + i}`);
    this.cursor += n;
    return { silo: this.silo, keys };
  }
  async stop(): Promise<void> {
    await Promise.all([this.silo.stop(), this.spare.then((s) => s.stop())]);
  }
}

async function benchTarget(target: Emulator): Promise<void> {
  heading(`DynamoDB storage on ${target.name} (${target.endpoint})`);
  const storage = dynamoStorage({ table: TABLE, endpoint: target.endpoint, region: 'local' });
  await storage.ensureTable();
  await seed(storage, SEEDED);
  const client = storage.client;
  let rawCursor = 0;

  for (const c of [1, 32]) {
    const cold = new ColdKeys(storage);
    await cold.init();
    const r = await pairedWithCpu(
      {
        name: 'cold activation',
        ops: c,
        batch: async () => {
          const { silo, keys } = await cold.take(c);
          await Promise.all(keys.map((k) => silo.getGrain(Counter, k).get()));
        },
      },
      {
        name: 'raw GetItem',
        ops: c,
        batch: async () => {
          const start = rawCursor;
          rawCursor = (rawCursor + c) % (SEEDED - c);
          await Promise.all(Array.from({ length: c }, (_, i) => client.send(new GetItemCommand({
            TableName: TABLE, Key: { pk: { S: pkOf(`cold-${start + i}`) } }, ConsistentRead: true,
          }))));
        },
      },
      { ms: MS, rounds: ROUNDS },
    );
    await cold.stop();
    report(`cold activation c${c}`, `raw GetItem c${c}`, r);
  }

  for (const c of [1, 32]) {
    const silo = await Silo.start({ grains: [Counter], storage, logger: jsonLogger({ level: 'error' }) });
    const grains = Array.from({ length: c }, (_, i) => silo.getGrain(Counter, `w${c}-${i}`));
    await Promise.all(grains.map((g) => g.get()));
    // Raw items with a version each worker tracks, written conditionally like the provider does.
    const versions = new Array<number>(c).fill(0);
    await Promise.all(versions.map((_, i) => client.send(new PutItemCommand({
      TableName: TABLE, Item: { pk: { S: pkOf(`raw${c}-${i}`) }, version: { N: '0' }, payload: { S: '{"value":0}' } },
    }))));
    const r = await pairedWithCpu(
      { name: 'writeState', ops: c, batch: async () => { await Promise.all(grains.map((g) => g.add(1))); } },
      {
        name: 'raw conditional PutItem',
        ops: c,
        batch: async () => {
          await Promise.all(versions.map(async (v, i) => {
            await client.send(new PutItemCommand({
              TableName: TABLE,
              Item: { pk: { S: pkOf(`raw${c}-${i}`) }, version: { N: String(v + 1) }, payload: { S: `{"value":${v + 1}}` } },
              ConditionExpression: '#v = :v',
              ExpressionAttributeNames: { '#v': 'version' },
              ExpressionAttributeValues: { ':v': { N: String(v) } },
            }));
            versions[i] = v + 1;
          }));
        },
      },
      { ms: MS, rounds: ROUNDS },
    );
    await silo.stop();
    report(`writeState (add) c${c}`, `raw conditional PutItem c${c}`, r);
  }

  if (target.name.startsWith('dynalite')) {
    // What call ids cost (issue 15): the same add(1) with an id (each write stores the grain's
    // call record, CALL_LOG_SIZE calls once warm) and without one (`id: null`). Target ≤ 5 %.
    const c = 32;
    const silo = await Silo.start({ grains: [Counter], storage, logger: jsonLogger({ level: 'error' }) });
    const keys = (side: string) => Array.from({ length: c }, (_, i) => `ids-${side}-${i}`);
    const send = (side: string, id: null | undefined) => Promise.all(keys(side).map((k) =>
      silo.router.invoke(grainId('Counter', k), `Counter/${k}`, 'add', [1], id === null ? { id: null } : {}))).then(() => undefined);
    // Warm: every grain's record full (CALL_LOG_SIZE + a few calls each).
    for (let i = 0; i < CALL_LOG_SIZE + 4; i++) await Promise.all([send('with', undefined), send('without', null)]);
    const stored = async (side: string) => (await storage.read(grainId('Counter', `ids-${side}-0`), 'state'))?.payload?.length ?? 0;
    console.log(`  each write stores ${await stored('with')} characters with call ids (the state and a record of ${CALL_LOG_SIZE} calls), ${await stored('without')} without`);
    const r = await pairedWithCpu(
      { name: 'writeState with call ids', ops: c, batch: () => send('with', undefined) },
      { name: 'writeState without', ops: c, batch: () => send('without', null) },
      { ms: MS, rounds: ROUNDS },
    );
    await silo.stop();
    report(`writeState with call ids c${c}`, `writeState without c${c}`, r, 0.95);
  }
  await storage.close();
}

const only = process.argv.slice(2);
for (const [name, start] of [['dynalite', dynaliteProcess], ['dynamodb local', dynamoDBLocal]] as const) {
  if (only.length > 0 && !only.some((o) => name.includes(o.toLowerCase()))) continue;
  const target = await start();
  try {
    await benchTarget(target);
  } finally {
    await target.stop();
  }
}
