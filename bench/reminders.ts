/**
 * Durable reminders (`npm run bench -- reminders`), each figure beside its limit in the same run:
 *  1. lateness of firings under 10,000 due per minute (p50, p99), beside a plain in-process
 *     timer (`setTimeout`) for the same due times; target: p99 ≤ one poll period + 50 ms;
 *  2. resident memory of a silo whose store holds 1,000,000 reminders across 100,000 grains,
 *     1 % of them due within the hour, beside the same silo with none; target ≤ 1.05×. The store
 *     lives in the bench process and the silo in a child reaching it over IPC, so the silo's
 *     memory is measured without the store's, as with DynamoDB; both silos also register and
 *     fire 50 reminders of their own (the same warm code paths);
 *  3. registration throughput (a grain's `registerReminder`: one PutItem) beside raw
 *     conditional PutItems on the same dynalite (its own process); target ≥ 0.8×.
 * Rounds alternate (ABAB…); medians and min–max (BENCH_ROUNDS, default 3).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Silo, dynamoStorage, memoryStorage } from 'granary';
import { jsonLogger, memoryReminderStore, type ReminderStore } from 'granary/internal';
import { BenchAlarm, lateness, serveStore } from './_reminders-support.js';
import { fmtMs, fmtRate, heading, median, percentile, row, verdict, spread } from './support.js';
import { startDynaliteProcess } from '../test/support/dynamodb.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const POLL_MS = 1_000;
const logger = jsonLogger({ level: 'error' });

// ---- 1. lateness ------------------------------------------------------------------------------

const PER_MINUTE = 10_000;
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 12_000);
const COUNT = Math.round((PER_MINUTE * WINDOW_MS) / 60_000);
const LEAD_MS = 2_500;

async function reminderRound(): Promise<number[]> {
  const silo = await Silo.start({ grains: [BenchAlarm], storage: memoryStorage(), logger, reminders: { pollMs: POLL_MS } });
  lateness.length = 0;
  // Registered from grains, due evenly over the window after a lead time.
  const grains = 500;
  await Promise.all(Array.from({ length: grains }, (_, g) => silo.getGrain(BenchAlarm, `g${g}`).touch()));
  const t0 = Date.now();
  await Promise.all(Array.from({ length: COUNT }, (_, i) =>
    silo.getGrain(BenchAlarm, `g${i % grains}`).set(`r${i}`, t0 + LEAD_MS + (i * WINDOW_MS) / COUNT - Date.now())));
  while (lateness.length < COUNT && Date.now() < t0 + LEAD_MS + WINDOW_MS + 10_000) await new Promise((r) => setTimeout(r, 100));
  const got = [...lateness];
  await silo.stop();
  if (got.length < COUNT) throw new Error(`only ${got.length} of ${COUNT} reminders fired`);
  return got;
}

async function timerRound(): Promise<number[]> {
  const got: number[] = [];
  const t0 = Date.now();
  await new Promise<void>((resolve) => {
    for (let i = 0; i < COUNT; i++) {
      const due = t0 + LEAD_MS + (i * WINDOW_MS) / COUNT;
      setTimeout(() => { got.push(Date.now() - due); if (got.length === COUNT) resolve(); }, due - Date.now());
    }
  });
  return got;
}

async function latenessFigures(): Promise<void> {
  heading(`lateness: ${COUNT} reminders due over ${WINDOW_MS / 1000} s (${PER_MINUTE.toLocaleString('en')} per minute), poll period ${POLL_MS} ms`);
  const rem = { p50: [] as number[], p99: [] as number[] };
  const tim = { p50: [] as number[], p99: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    const a = await reminderRound();
    rem.p50.push(percentile(a, 50)); rem.p99.push(percentile(a, 99));
    const b = await timerRound();
    tim.p50.push(percentile(b, 50)); tim.p99.push(percentile(b, 99));
  }
  console.log(`${'reminders p50'.padEnd(44)} ${spread(rem.p50, fmtMs)}   vs setTimeout p50 ${spread(tim.p50, fmtMs)}`);
  console.log(`${'reminders p99'.padEnd(44)} ${spread(rem.p99, fmtMs)}   vs setTimeout p99 ${spread(tim.p99, fmtMs)}   ${verdict(rem.p99, { atMost: POLL_MS + 50 }, fmtMs)}`);
}

// ---- 2. resident memory -----------------------------------------------------------------------

const GRAINS = 100_000;
const PER_GRAIN = 10;

async function populated(): Promise<ReminderStore> {
  const store = memoryReminderStore();
  const now = Date.now();
  const total = GRAINS * PER_GRAIN;
  for (let i = 0; i < total; i++) {
    const grain = `BenchAlarm/m${i % GRAINS}`;
    // 1 % due within the hour, the rest over the next 30 days.
    const dueAt = i % 100 === 0 ? now + 5_000 + ((i / 100) * 3_600_000) / (total / 100) : now + 3_600_000 + ((i * 7919) % (30 * 86_400_000));
    await store.put({ grain, name: `r${Math.floor(i / GRAINS)}`, dueAt, scheduledAt: dueAt, attempt: 0, periodMs: 86_400_000 });
  }
  return store;
}

async function siloMemory(store: ReminderStore): Promise<{ rss: number; heapUsed: number; held: number }> {
  const child = fork(fileURLToPath(new URL('./_reminders-silo.js', import.meta.url)), [], {
    // A small young generation and one malloc arena for both: their committed sizes vary from
    // process to process by more than what is measured.
    execArgv: ['--expose-gc', '--max-semi-space-size=1'], env: { ...process.env, SETTLE_MS: '8000', MALLOC_ARENA_MAX: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  serveStore(child, store);
  const report = await new Promise<{ rss: number; heapUsed: number; held: number }>((resolve, reject) => {
    child.on('message', (m: { report?: { rss: number; heapUsed: number; held: number } }) => { if (m?.report) resolve(m.report); });
    child.once('exit', (code) => reject(new Error(`the silo child exited (${code}) before reporting`)));
  });
  await new Promise((r) => child.once('exit', r));
  return report;
}

async function memoryFigures(): Promise<void> {
  heading(`resident memory: a silo over ${(GRAINS * PER_GRAIN).toLocaleString('en')} reminders (${GRAINS.toLocaleString('en')} grains, 1 % due within the hour) vs none`);
  const t0 = Date.now();
  const heapBefore = process.memoryUsage().heapUsed;
  const full = await populated();
  const heapAfter = process.memoryUsage().heapUsed;
  console.log(`(store populated in ${((Date.now() - t0) / 1000).toFixed(1)} s; it takes ~${((heapAfter - heapBefore) / 1e6).toFixed(0)} MB of heap in the bench process, none of it in the silo)`);
  const empty = memoryReminderStore();
  const ratios: number[] = [];
  const withRss: number[] = [];
  const noneRss: number[] = [];
  const withHeap: number[] = [];
  const noneHeap: number[] = [];
  let held = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = await siloMemory(full);
    const b = await siloMemory(empty);
    withRss.push(a.rss / 1e6); noneRss.push(b.rss / 1e6);
    withHeap.push(a.heapUsed / 1e6); noneHeap.push(b.heapUsed / 1e6);
    ratios.push(a.rss / b.rss);
    held = Math.max(held, a.held);
  }
  const mb = (x: number) => `${x.toFixed(1)} MB`;
  console.log(`${'silo RSS, 1,000,000 reminders'.padEnd(44)} ${spread(withRss, mb)}   vs no reminders ${spread(noneRss, mb)}   ratio ${spread(ratios)}   ${verdict(ratios, { atMost: 1.05 })}   (held in memory at most: ${held})`);
  console.log(`${'silo heap used, 1,000,000 reminders'.padEnd(44)} ${spread(withHeap, mb)}   vs no reminders ${spread(noneHeap, mb)}`);
}

// ---- 3. registration throughput ---------------------------------------------------------------

async function registrationFigures(): Promise<void> {
  const db = await startDynaliteProcess();
  const storage = dynamoStorage({ table: `bench_rem_${process.pid}`, endpoint: db.endpoint, region: 'local' });
  await storage.ensureTable();
  const silo = await Silo.start({ grains: [BenchAlarm], storage, logger, reminders: { fire: false } });
  const CONC = 32;
  const OPS = Number(process.env.BENCH_OPS ?? 1_500);
  heading(`registration: ${OPS} registerReminder calls (one PutItem each) vs raw conditional PutItem, concurrency ${CONC}, dynalite (own process)`);
  await Promise.all(Array.from({ length: CONC }, (_, g) => silo.getGrain(BenchAlarm, `reg${g}`).touch()));
  const closedLoop = async (op: (i: number) => Promise<unknown>): Promise<number> => {
    let next = 0;
    const t = performance.now();
    await Promise.all(Array.from({ length: CONC }, async () => { while (next < OPS) await op(next++); }));
    return OPS / ((performance.now() - t) / 1000);
  };
  let round = 0;
  const viaGrain = () => { const r = ++round; return closedLoop((i) => silo.getGrain(BenchAlarm, `reg${i % CONC}`).set(`r${r}-${i}`, 86_400_000)); };
  const raw = () => {
    const r = ++round;
    return closedLoop((i) => storage.client.send(new PutItemCommand({
      TableName: `${storage.table}_reminders`,
      Item: { pk: { S: `BenchAlarm/raw${i % CONC}` }, sk: { S: `r${r}-${i}` }, part: { N: '1' }, dueAt: { N: String(Date.now() + 86_400_000) }, scheduledAt: { N: '1' }, attempt: { N: '0' }, version: { N: '1' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    })));
  };
  await viaGrain(); await raw(); // warm-up
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) { a.push(await viaGrain()); b.push(await raw()); }
  row({ label: 'registerReminder via a grain', value: fmtRate(median(a)), limitLabel: 'raw conditional PutItem', limit: fmtRate(median(b)), ratios: a.map((x, i) => x / b[i]!), atLeast: 0.8 });
  await silo.stop();
  await storage.close();
  await db.close();
}

const only = process.env.BENCH_ONLY;
if (!only || only === 'lateness') await latenessFigures();
if (!only || only === 'memory') await memoryFigures();
if (!only || only === 'registration') await registrationFigures();
