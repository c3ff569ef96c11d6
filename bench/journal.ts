/**
 * Journaled grains on DynamoDB beside raw SDK calls, on dynalite (its own process) and on
 * DynamoDB Local (AWS's jar, its own JVM):
 *  - confirm: `log(1)` on an active journaled grain (raise one event, `confirmEvents()`: one
 *    conditional PutItem of the batch item) beside one raw conditional PutItem of an item of
 *    the same shape, concurrency 1 and 16 (target ≥ 0.8×);
 *  - replay: a cold activation of a grain whose journal holds 10,000 events with
 *    `snapshotEvery = 1000` (the latest snapshot 1,000 events back: the most an activation
 *    ever replays) beside a raw Query of those same items — the snapshot and the 1,000 batch
 *    items after it (target ≥ 0.7×); and the same activation with 100,000 events, to show
 *    that replay time follows the snapshot interval, not the journal's length.
 * Pairs run in alternating rounds (ABAB…); medians and min–max of the rounds (BENCH_ROUNDS,
 * BENCH_MS: shorter runs).
 */
import { BatchWriteItemCommand, PutItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { JournaledGrain, Silo, dynamoStorage, type DynamoStorage } from 'granary';
import { jsonLogger } from 'granary/internal';
import { figure, fmtMs, fmtRate, heading, median, paired, row } from './support.js';
import { startDynaliteProcess, startDynamoDBLocal, type DynamoEndpoint } from '../test/support/dynamodb.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

class BenchLog extends JournaledGrain<{ count: number; sum: number }, { add: number }> {
  static grainType = 'BenchLog';
  static override snapshotEvery = 1_000;
  protected override initialState() { return { count: 0, sum: 0 }; }
  protected override apply(s: { count: number; sum: number }, e: { add: number }) { s.count++; s.sum += e.add; }
  async log(n: number): Promise<number> { this.raiseEvent({ add: n }); await this.confirmEvents(); return this.version; }
  async get(): Promise<{ count: number; sum: number }> { return this.state; }
  async bye(): Promise<void> { this.deactivateOnIdle(); }
}

/** The same grain under another type: replay rounds wait for its activation to end, and no other is of this type. */
class BenchReplay extends BenchLog {
  static override grainType = 'BenchReplay';
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const MS = Number(process.env.BENCH_MS ?? 400);
const TABLE = 'granary_bench_journal';
const JTABLE = `${TABLE}_journal`;
const EVENT = '{"add":1}';
/** The shorter journal's length (the longer one is ten times it); shorten for a quick look. */
const EVENTS = Number(process.env.BENCH_JOURNAL_EVENTS ?? 10_000);
const progress = (s: string) => { if (process.env.BENCH_VERBOSE) console.error(`[journal bench] ${s}`); };

interface Emulator { name: string; endpoint: string; stop(): Promise<void> }
async function emulator(name: string, start: () => Promise<DynamoEndpoint>): Promise<Emulator> {
  const db = await start();
  return { name, endpoint: db.endpoint, stop: () => db.close() };
}

/** Writes a journal of `events` one-event batches in the documented layout (journal.ts), snapshots every 1,000 up to `events − 1000`. */
async function seedJournal(storage: DynamoStorage, key: string, events: number): Promise<void> {
  const pk = `BenchReplay/${key}`;
  const items: Record<string, AttributeValue>[] = [];
  for (let v = 0; v < events; v++) {
    items.push({ pk: { S: pk }, n: { N: String(2 * v) }, count: { N: '1' }, ev: { N: '1' }, writeId: { S: `seed-${v}` }, events: { L: [{ S: EVENT }] } });
  }
  for (let v = 1_000; v <= events - 1_000; v += 1_000) {
    items.push({ pk: { S: pk }, n: { N: String(2 * v - 1) }, ev: { N: '1' }, state: { S: JSON.stringify({ count: v, sum: v }) } });
  }
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let at = (next += 25) - 25; at < items.length; at = (next += 25) - 25) {
      let requests: Record<string, { PutRequest: { Item: Record<string, AttributeValue> } }[]> | undefined = {
        [JTABLE]: items.slice(at, at + 25).map((Item) => ({ PutRequest: { Item } })),
      };
      while (requests !== undefined && Object.keys(requests).length > 0) {
        const out = await storage.client.send(new BatchWriteItemCommand({ RequestItems: requests }));
        requests = out.UnprocessedItems as typeof requests;
      }
    }
  }));
}

async function benchTarget(target: Emulator): Promise<void> {
  heading(`Journaled grains on ${target.name} (${target.endpoint})`);
  const storage = dynamoStorage({ table: TABLE, endpoint: target.endpoint, region: 'local' });
  await storage.ensureTable();
  const silo = await Silo.start({ grains: [BenchLog, BenchReplay], storage, logger: jsonLogger({ level: 'error' }) });
  const client = storage.client;
  try {
    // ---- confirm of a 1-event batch vs a raw conditional PutItem ----------------------------
    let rawN = 0;
    for (const c of [1, 16]) {
      const grains = Array.from({ length: c }, (_, i) => silo.getGrain(BenchLog, `confirm-${c}-${i}`));
      await Promise.all(grains.map((g) => g.log(1)));
      const r = await paired(
        { name: 'confirm', ops: c, batch: async () => { await Promise.all(grains.map((g) => g.log(1))); } },
        {
          name: 'raw PutItem',
          ops: c,
          batch: async () => {
            await Promise.all(Array.from({ length: c }, (_, i) => client.send(new PutItemCommand({
              TableName: JTABLE,
              Item: { pk: { S: `Raw/${c}-${i}` }, n: { N: String(2 * rawN++) }, count: { N: '1' }, ev: { N: '1' }, writeId: { S: 'w' }, events: { L: [{ S: EVENT }] } },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            }))));
          },
        },
        { ms: MS, rounds: ROUNDS },
      );
      row({ label: `confirm 1 event, concurrency ${c}`, value: fmtRate(r.a), limitLabel: 'raw conditional PutItem', limit: fmtRate(r.b), ratios: r.ratios, atLeast: 0.8 });
    }

    // ---- replay: cold activation vs raw Query of the same items -----------------------------
    const t0 = performance.now();
    await seedJournal(storage, 'short', EVENTS);
    await seedJournal(storage, 'long', 10 * EVENTS);
    console.log(`(seeded ${11 * EVENTS} events in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    const coldGet = async (key: string): Promise<number> => {
      const g = silo.getGrain(BenchReplay, key);
      progress(`bye ${key}`);
      await g.bye();
      progress(`waiting for ${key} to deactivate`);
      while (silo.catalog.get(`BenchReplay/${key}`) !== undefined) await new Promise((r) => setTimeout(r, 1));
      (globalThis as { gc?: () => void }).gc?.();
      const start = performance.now();
      const s = await g.get();
      const ms = performance.now() - start;
      const expected = key === 'short' ? EVENTS : 10 * EVENTS;
      progress(`replayed ${key} in ${ms.toFixed(1)} ms`);
      if (s.count !== expected) throw new Error(`replay of ${key} gave ${s.count} events, expected ${expected}`);
      return ms;
    };
    const rawQuery = async (key: string, events: number): Promise<number> => {
      const start = performance.now();
      let got = 0;
      let from: Record<string, AttributeValue> | undefined;
      do {
        const out = await client.send(new QueryCommand({
          TableName: JTABLE,
          KeyConditionExpression: 'pk = :pk AND n >= :n',
          ExpressionAttributeValues: { ':pk': { S: `BenchReplay/${key}` }, ':n': { N: String(2 * (events - 1_000) - 1) } },
          ConsistentRead: true,
          ExclusiveStartKey: from,
        }));
        got += out.Items?.length ?? 0;
        from = out.LastEvaluatedKey;
      } while (from !== undefined);
      const ms = performance.now() - start;
      if (got !== 1_001) throw new Error(`raw query read ${got} items, expected 1,001`);
      return ms;
    };
    await coldGet('short'); await rawQuery('short', EVENTS); await coldGet('long');
    const replay10: number[] = [], replay100: number[] = [], raw: number[] = [], ratios: number[] = [], growth: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternating order, a collection before each timing: neither side inherits the other's garbage.
      let a = 0, b = 0, c = 0;
      const steps = [async () => { a = await coldGet('short'); }, async () => { b = await rawQuery('short', EVENTS); }, async () => { c = await coldGet('long'); }];
      for (const step of i % 2 === 0 ? steps : [...steps].reverse()) { (globalThis as { gc?: () => void }).gc?.(); await step(); }
      replay10.push(a); raw.push(b); replay100.push(c);
      ratios.push(b / a); growth.push(c / a);
    }
    const k = (n: number) => `${n / 1000}k`;
    row({ label: `activation replay, ${k(EVENTS)} events (1,000 after snap)`, value: fmtMs(median(replay10)), limitLabel: 'raw Query of the 1,001 items', limit: fmtMs(median(raw)), ratios, atLeast: 0.7 });
    figure(`replay ${k(10 * EVENTS)} events ÷ replay ${k(EVENTS)} events`, growth, { note: `(${k(10 * EVENTS)}: ${fmtMs(median(replay100))}; flat ≈ 1.0×)` });
  } finally {
    await silo.stop();
    await storage.close();
  }
}

for (const make of [() => emulator('dynalite (own process)', startDynaliteProcess), () => emulator('DynamoDB Local', () => startDynamoDBLocal({ fastStart: false }))]) {
  const target = await make();
  try {
    await benchTarget(target);
  } finally {
    await target.stop();
  }
}
