/**
 * Silos as real processes (the container entry point, `node dist/silo/main.js`) on a real
 * nats-server, state in dynalite (its own process): single activation across processes,
 * SIGKILL failover, SIGTERM graceful stop, all under load from NATS clients in this process.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type KV, type NatsConnection } from 'nats';
import { GrainClient, SiloUnavailableError, natsCluster } from 'granary';
import { jsonLogger } from 'granary/internal';
import type { Counter } from '../../grains/index.js';
import { startDynaliteProcess, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { NatsServer } from '../support/nats-server.js';
import { REPO, spawnSilo, type SiloProcess } from '../process/silo-process.js';
import { sleep, until } from './helpers.js';

let nats: NatsServer;
let dynamo: DynamoEndpoint;
let nc: NatsConnection;

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist', 'silo', 'main.js'))) throw new Error('dist/silo/main.js is missing: run `npm run build` first (npm test does)');
  [nats, dynamo] = await Promise.all([NatsServer.start(), startDynaliteProcess()]);
  nc = await connect({ servers: nats.url });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.stop(), dynamo?.close()]);
});

/** Silo processes and NATS clients of one cluster, and its buckets read directly. */
interface ProcessCluster {
  silos: SiloProcess[];
  clients: GrainClient[];
  /** Why each verdict "silo declared dead" on `siloId` was given, by the silos (past and present) and the clients. */
  verdicts(siloId: string): string[];
  directory: KV;
  membership: KV;
  stop(): Promise<void>;
}

let clusters = 0;
async function startCluster(storage: 'memory' | 'dynalite'): Promise<ProcessCluster> {
  const cluster = `procs${process.pid}-${++clusters}`;
  const env: Record<string, string> = { GRANARY_NATS_URL: nats.url, GRANARY_CLUSTER: cluster, GRANARY_DRAIN_TIMEOUT_MS: '15000' };
  if (storage === 'memory') env.GRANARY_STORAGE = 'memory';
  else Object.assign(env, { GRANARY_DYNAMODB_TABLE: uniqueTable('granary_nats_procs'), GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint, GRANARY_DYNAMODB_CREATE_TABLE: '1', AWS_REGION: 'local' });
  const silos = [await spawnSilo(env)]; // the first one creates the table
  silos.push(...(await Promise.all([spawnSilo(env), spawnSilo(env)])));
  const all = [...silos];
  const clientLogs: LogLine[] = [];
  const logger = jsonLogger({ level: 'warn', write: (line) => clientLogs.push(JSON.parse(line) as LogLine) });
  const clients: GrainClient[] = [];
  for (let i = 0; i < 4; i++) clients.push(await GrainClient.connect({ cluster: natsCluster({ servers: nats.url, name: cluster, logger }) }));
  const js = nc.jetstream();
  return {
    silos,
    clients,
    verdicts: (siloId) => [...clientLogs, ...all.flatMap((p) => p.logs)]
      .filter((l) => l.msg === 'silo declared dead' && l.dead === siloId).map((l) => String(l.why)),
    directory: await js.views.kv(`granary-${cluster}-directory`, { bindOnly: true }),
    membership: await js.views.kv(`granary-${cluster}-silos`, { bindOnly: true }),
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      for (const p of silos) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
    },
  };
}

const siloId = (p: SiloProcess): string => String(p.logs.find((l) => l.msg === 'silo ready')!.silo);

async function metric(p: SiloProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(p.url + '/metrics')).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}
const activationsTotal = (p: SiloProcess) => metric(p, /^granary_activations_total (\d+)$/m);
const liveCounters = (p: SiloProcess) => metric(p, /^granary_activations\{type="Counter"\} (\d+)$/m);

/** Grain id → silo id, read straight from the directory bucket. */
async function owners(directory: KV): Promise<Map<string, string>> {
  const keys: string[] = [];
  for await (const key of await directory.keys()) keys.push(key); // list first: the lister must not wait on us
  const out = new Map<string, string>();
  await Promise.all(keys.map(async (key) => {
    const e = await directory.get(key);
    if (e?.operation === 'PUT') out.set(Buffer.from(key, 'base64url').toString('utf8'), (e.json() as { silo: string }).silo);
  }));
  return out;
}

/** Whether `key` is absent from `kv` (now, or within `withinMs`). */
async function entryGone(kv: KV, key: string, withinMs: number): Promise<boolean> {
  const end = performance.now() + withinMs;
  for (;;) {
    if ((await kv.get(key))?.operation !== 'PUT') return true;
    if (performance.now() > end) return false;
    await sleep(50);
  }
}

interface Outcome { key: string; start: number; end: number; error?: unknown }
type LogLine = SiloProcess['logs'][number];

/** Whether every key in `keys` had a call succeed that started after `since`. */
const answeredSince = (outcomes: Outcome[], keys: string[], since: number): boolean =>
  keys.every((k) => outcomes.some((o) => o.key === k && o.error === undefined && o.start >= since));

/** `workers` loops of `add(1)` over `keys` from the clients until `stop()`; counts what was acknowledged. */
function load(clients: GrainClient[], keys: string[], workers: number) {
  const outcomes: Outcome[] = [];
  const acked = new Map<string, number>();
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    const client = clients[w % clients.length]!;
    for (let i = w; running; i += workers) {
      const key = keys[i % keys.length]!;
      const start = performance.now();
      try {
        await client.getGrain<Counter>('Counter', key).add(1);
        acked.set(key, (acked.get(key) ?? 0) + 1);
        outcomes.push({ key, start, end: performance.now() });
      } catch (error) {
        outcomes.push({ key, start, end: performance.now(), error });
      }
    }
  });
  return { outcomes, acked, stop: async () => { running = false; await Promise.all(loops); } };
}

describe('silo processes on NATS: single activation', () => {
  let c: ProcessCluster;
  // In-memory state per process: a second activation of a key would start again from 0,
  // which the distinct answers below would show.
  beforeAll(async () => { c = await startCluster('memory'); }, 60_000);
  afterAll(async () => { await c?.stop(); });

  it('3 silo processes, 4 clients, 500 keys × 8 concurrent first calls → exactly one activation per key', async () => {
    const before = await Promise.all(c.silos.map(activationsTotal));
    const keys = Array.from({ length: 500 }, (_, i) => `one-${i}`);
    const calls: Promise<number>[] = [];
    for (const k of keys) for (let j = 0; j < 8; j++) calls.push(c.clients[j % 4]!.getGrain<Counter>('Counter', k).add(1));
    const results = await Promise.all(calls);
    // Each key's 8 increments got 8 distinct answers: one activation served them, in turns.
    keys.forEach((k, i) => expect(results.slice(i * 8, i * 8 + 8).sort((a, b) => a - b), k).toEqual([1, 2, 3, 4, 5, 6, 7, 8]));
    const after = await Promise.all(c.silos.map(activationsTotal));
    const created = after.reduce((n, a, i) => n + a - before[i]!, 0);
    expect(created).toBe(keys.length); // every key activated, and none twice, across the three processes
    expect((await Promise.all(c.silos.map(liveCounters))).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(keys.length);
    expect(after.every((a, i) => a > before[i]!)).toBe(true); // placement used every process
    const map = await owners(c.directory);
    expect(keys.every((k) => map.has(`Counter/${k}`))).toBe(true);
  }, 60_000);
});

describe('silo processes on NATS: failover and graceful stop under load', () => {
  let c: ProcessCluster;
  beforeAll(async () => { c = await startCluster('dynalite'); }, 60_000);
  afterAll(async () => { await c?.stop(); });

  it('SIGKILL under load: the dead silo\'s grains come back elsewhere with their last written state', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `kill-${i}`);
    for (const k of keys) await c.clients[0]!.getGrain<Counter>('Counter', k).add(1);
    const victim = c.silos[0]!;
    const victimId = siloId(victim);
    const map = await owners(c.directory);
    const onVictim = keys.filter((k) => map.get(`Counter/${k}`) === victimId);
    expect(onVictim.length).toBeGreaterThan(0);

    const run = load(c.clients, keys, keys.length); // one loop per grain: its recovery is its own
    await until(() => answeredSince(run.outcomes, keys, 0), 30_000, 'every grain answers under load before the kill');
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    const deadAt = performance.now();
    c.silos.shift();
    // Every grain of the victim comes back: a call started after the kill succeeds.
    await until(() => answeredSince(run.outcomes, onVictim, killedAt), 40_000, 'every grain of the killed silo answers again');
    await run.stop();

    const failures = run.outcomes.filter((o) => o.error !== undefined);
    // Only calls that were in flight when the victim died can fail (none started after it was
    // dead), and only as "may or may not have run".
    for (const f of failures) {
      expect(f.error, String(f.error)).toBeInstanceOf(SiloUnavailableError);
      expect(f.start, `${f.key}: a call started after the victim was dead failed: ${String(f.error)}`).toBeLessThanOrEqual(deadAt);
    }
    // Failover did not wait for the heartbeat verdict (stale after 4 s, then a ping): every
    // verdict on the victim came from "no responders" and the slow-call probe, before anyone's
    // heartbeat verdict. (bench/nats-failover measures how long failover takes.)
    const verdicts = c.verdicts(victimId);
    expect(verdicts.length).toBeGreaterThan(0);
    for (const why of verdicts) expect(why).toBe('no responders');
    // Nothing acknowledged is lost: every key holds at least 1 + its acknowledged adds, and at
    // most that plus the adds whose outcome is unknown.
    const unknown = new Map<string, number>();
    for (const f of failures) unknown.set(f.key, (unknown.get(f.key) ?? 0) + 1);
    for (const k of keys) {
      const v = await c.clients[1]!.getGrain<Counter>('Counter', k).get();
      expect(v).toBeGreaterThanOrEqual(1 + (run.acked.get(k) ?? 0));
      expect(v).toBeLessThanOrEqual(1 + (run.acked.get(k) ?? 0) + (unknown.get(k) ?? 0));
    }
    // The victim's directory entries were replaced (not duplicated); its membership entry goes.
    const after = await owners(c.directory);
    for (const k of onVictim) expect(after.get(`Counter/${k}`)).not.toBe(victimId);
    expect(await entryGone(c.membership, victimId, 20_000)).toBe(true);
  }, 60_000);

  it('SIGTERM under load: the silo deactivates, leaves the directory and the cluster; zero failed calls', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `term-${i}`);
    for (const k of keys) await c.clients[0]!.getGrain<Counter>('Counter', k).add(1);
    const leaving = c.silos[0]!;
    const leavingId = siloId(leaving);
    const map = await owners(c.directory);
    expect(keys.some((k) => map.get(`Counter/${k}`) === leavingId)).toBe(true);

    const run = load(c.clients, keys, 16);
    await until(() => answeredSince(run.outcomes, keys, 0), 30_000, 'every grain answers under load before SIGTERM');
    const signalledAt = performance.now();
    const { code } = await leaving.signal('SIGTERM');
    c.silos.shift();
    const exitedAt = performance.now();
    await until(() => run.outcomes.filter((o) => o.start > exitedAt).length > 20, 30_000, 'calls go on after the silo exited');
    await run.stop();

    expect(code).toBe(0);
    // On failure, the stopped silo's warnings say what happened on its side.
    const diagnostics = [
      ...run.outcomes.filter((o) => o.error !== undefined).map((o) => `${o.key}: started ${Math.round(o.start - signalledAt)} ms after SIGTERM, failed after ${Math.round(o.end - o.start)} ms (exit at ${Math.round(exitedAt - signalledAt)} ms)`),
      ...leaving.logs.filter((l) => l.level !== 'debug').map((l) => JSON.stringify(l)),
    ].join('\n');
    expect(run.outcomes.filter((o) => o.error !== undefined).map((o) => String(o.error)), diagnostics).toEqual([]);
    expect(run.outcomes.filter((o) => o.start > exitedAt).length).toBeGreaterThan(20);
    for (const k of keys) expect(await c.clients[2]!.getGrain<Counter>('Counter', k).get()).toBe(1 + run.acked.get(k)!);
    // No directory entry and no membership entry of the stopped silo remain.
    expect([...(await owners(c.directory)).values()].filter((s) => s === leavingId)).toEqual([]);
    expect(await entryGone(c.membership, leavingId, 0)).toBe(true);
  }, 60_000);
});
