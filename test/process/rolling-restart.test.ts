/**
 * Rolling restart: three silo processes (the Dockerfile's CMD) on a real nats-server and
 * DynamoDB storage (a dynalite server), two NATS clients calling continuously, and each silo
 * in turn SIGTERMed (graceful stop, exit 0) and replaced. No call may fail, and every
 * acknowledged write must be there at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GrainClient } from 'granary';
import { Counter } from '../../grains/index.js';
import { dynamoStorage, startEmbeddedDynalite, type EmbeddedDynalite } from '../../silo/dynamodb/index.js';
import { NatsServer } from '../support/nats-server.js';
import { spawnSilo, type SiloProcess } from './silo-process.js';

const TABLE = 'rolling';
const cluster = `rolling${process.pid}`;
let nats: NatsServer;
let dynamo: EmbeddedDynalite;
let dir: string;
const all: SiloProcess[] = [];

function env(): Record<string, string> {
  return {
    GRANARY_NATS_URL: nats.url,
    GRANARY_CLUSTER: cluster,
    GRANARY_DYNAMODB_TABLE: TABLE,
    GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint,
    GRANARY_DRAIN_TIMEOUT_MS: '15000',
  };
}

async function start(): Promise<SiloProcess> {
  const p = await spawnSilo(env(), { timeoutMs: 30_000 });
  all.push(p);
  return p;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'granary-rolling-'));
  [nats, dynamo] = await Promise.all([NatsServer.start(), startEmbeddedDynalite({ dir })]);
  const storage = dynamoStorage({ table: TABLE, endpoint: dynamo.endpoint });
  await storage.ensureTable();
  await storage.close();
});

afterAll(async () => {
  for (const p of all) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await nats?.stop();
  await dynamo?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rolling restart', () => {
  it('each silo SIGTERMed and replaced in turn under load: 0 failed calls, no acknowledged write lost', async () => {
    const silos = await Promise.all([start(), start(), start()]);
    const clients = await Promise.all([GrainClient.connect({ nats: nats.url, cluster }), GrainClient.connect({ nats: nats.url, cluster })]);

    const acknowledged = new Map<string, number>();
    const failures: string[] = [];
    const mismatches: string[] = [];
    let calls = 0;
    let running = true;
    const WORKERS = 4;
    const KEYS_PER_WORKER = 8;

    // Each worker owns its keys, so the value an add returns must be exactly one more than before.
    const worker = async (client: GrainClient, name: string) => {
      for (let i = 0; running; i++) {
        const key = `${name}-${i % KEYS_PER_WORKER}`;
        try {
          const value = await client.getGrain(Counter, key).add(1);
          calls++;
          const expected = (acknowledged.get(key) ?? 0) + 1;
          if (value !== expected) mismatches.push(`${key}: got ${value}, expected ${expected}`);
          acknowledged.set(key, Math.max(expected, value));
        } catch (err) {
          failures.push(`${key}: ${(err as Error).name}: ${(err as Error).message}`);
        }
      }
    };
    const load = clients.flatMap((c, ci) => Array.from({ length: WORKERS }, (_, w) => worker(c, `c${ci}w${w}`)));

    // Waits for the load to make `n` more acknowledged calls (the cap only catches "never").
    const moreCalls = (n: number, what: string) => {
      const target = calls + n;
      return vi.waitFor(() => { if (calls < target) throw new Error(`${calls} of ${target} calls: ${what}`); }, { timeout: 60_000, interval: 20 });
    };
    await moreCalls(50, 'the load runs before the first restart');
    for (let i = 0; i < silos.length; i++) {
      const before = calls;
      const { code } = await silos[i]!.signal('SIGTERM');
      expect(code, `silo ${i} exit code (a stop cut at the drain bound exits 1)`).toBe(0);
      silos[i] = await start();
      await moreCalls(50, `calls go on after silo ${i} restarted`);
      expect(calls, `calls went on while silo ${i} restarted`).toBeGreaterThan(before);
    }
    await moreCalls(20, 'calls go on after the last restart');
    running = false;
    await Promise.all(load);

    // On failure, the silos' warnings and errors say what happened on their side.
    const diagnostics = () => all.flatMap((p, i) => p.logs.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => `silo#${i} ${JSON.stringify(l)}`)).join('\n');
    expect(failures, diagnostics()).toEqual([]);
    expect(mismatches, diagnostics()).toEqual([]);
    expect(calls).toBeGreaterThan(100);
    // Every acknowledged write is in storage: read each counter back (activating afresh where needed).
    for (const [key, n] of acknowledged) expect(await clients[0]!.getGrain(Counter, key).get(), key).toBe(n);

    await Promise.all(clients.map((c) => c.close()));
    for (const p of silos) expect((await p.signal('SIGTERM')).code).toBe(0);
  }, 120_000);
});
