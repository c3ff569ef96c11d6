/**
 * Reminders on a real cluster: three silo processes (`node dist/silo/main.js`) on a real
 * nats-server, reminders and state in dynalite (its own process). SIGKILL the silo that owns
 * a reminder's partition: another silo takes the partition over and the reminder fires
 * there, within the failover time (a stale heartbeat, 4 s by default) plus one poll and one tick.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GrainClient, natsCluster } from 'granary';
import { startDynaliteProcess, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { NatsServer } from '../support/nats-server.js';
import { REPO, spawnSilo, type SiloProcess } from '../process/silo-process.js';

/** Polls an async check until it holds. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** natsCluster's defaults, which the silo processes run with. */
const STALE_AFTER_MS = 4_000;
const HEARTBEAT_MS = 1_000;
/** The reminder service's default poll period. */
const POLL_MS = 1_000;
const PERIOD_MS = 1_000;

interface Tick { name: string; firingId: string; scheduledAt: number; attempt: number; ranAt: number }
interface Beacon { start(periodMs: number): Promise<void>; stop(): Promise<boolean>; ticks(): Promise<Tick[]> }

let nats: NatsServer;
let dynamo: DynamoEndpoint;
let silos: SiloProcess[] = [];
let client: GrainClient | undefined;

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist', 'silo', 'main.js'))) throw new Error('dist/silo/main.js is missing: run `npm run build` first (npm test does)');
  [nats, dynamo] = await Promise.all([NatsServer.start(), startDynaliteProcess()]);
}, 60_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  for (const p of silos) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await Promise.all([nats?.stop(), dynamo?.close()]);
});

async function fired(p: SiloProcess): Promise<number> {
  const text = await (await fetch(p.url + '/metrics')).text();
  return Number(/^granary_reminder_firings_total\{outcome="fired"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

it('SIGKILL of the silo that owns a reminder: it fires on another silo within the failover time plus one tick', async () => {
  const cluster = `rem${process.pid}`;
  const env = {
    GRANARY_NATS_URL: nats.url, GRANARY_CLUSTER: cluster, GRANARY_GRAINS: './test/process/fixtures/reminder-grains.mjs',
    GRANARY_DYNAMODB_TABLE: uniqueTable('granary_rem_procs'), GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint, GRANARY_DYNAMODB_CREATE_TABLE: '1', AWS_REGION: 'local',
  };
  silos = [await spawnSilo(env)]; // the first one creates the tables
  silos.push(...(await Promise.all([spawnSilo(env), spawnSilo(env)])));
  client = await GrainClient.connect({ cluster: natsCluster({ servers: nats.url, name: cluster }) });
  const beacon = client.getGrain<Beacon>('Beacon', 'b1');
  await beacon.start(PERIOD_MS);

  // The owner of the reminder's partition is the silo whose service fires it.
  await until(async () => (await beacon.ticks()).length >= 3, 20_000, 'three ticks');
  const counts = await Promise.all(silos.map(fired));
  const ownerIndex = counts.findIndex((n) => n > 0);
  expect(counts.filter((n) => n > 0)).toHaveLength(1);
  const owner = silos[ownerIndex]!;
  const others = silos.filter((s) => s !== owner);
  const before = await Promise.all(others.map(fired));

  owner.child.kill('SIGKILL');
  await owner.exited;
  const killedAt = Date.now();
  const seen = (await beacon.ticks()).length;

  await until(async () => (await beacon.ticks()).length > seen + 2, 30_000, 'three more ticks after the kill');
  const ticks = await beacon.ticks();
  // (A firing the owner sent just before its death may still be running: skip 250 ms.)
  const firstAfter = ticks.find((t) => t.ranAt > killedAt + 250)!;
  // Failover: a stale heartbeat plus the sweep that notices it (half a heartbeat) and the
  // probe it sends; then one poll of the new owner, and one tick of the reminder.
  const bound = STALE_AFTER_MS + HEARTBEAT_MS + POLL_MS + PERIOD_MS + 2_000;
  expect(firstAfter.ranAt - killedAt).toBeLessThan(bound);
  // It fired on another silo: a survivor's service counts it.
  const after = await Promise.all(others.map(fired));
  expect(after.reduce((a, b) => a + b, 0)).toBeGreaterThan(before.reduce((a, b) => a + b, 0));
  // At least once: a tick repeats only across the move, with its firingId; ticks missed
  // during the failover fire once, not in a burst.
  const perId = new Map<string, number>();
  for (const t of ticks) perId.set(t.firingId, (perId.get(t.firingId) ?? 0) + 1);
  expect([...perId.values()].every((n) => n <= 2)).toBe(true);
  expect([...perId.values()].filter((n) => n === 2).length).toBeLessThanOrEqual(1);
  const scheduled = ticks.map((t) => t.scheduledAt);
  expect([...scheduled].sort((a, b) => a - b)).toEqual(scheduled);
  const gap = ticks.filter((t) => t.ranAt > killedAt);
  expect(gap.length).toBeLessThan(3 + (Date.now() - killedAt) / PERIOD_MS);
  expect(await beacon.stop()).toBe(true);
}, 120_000);
