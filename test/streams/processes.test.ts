/**
 * Streams on a 3-process cluster: silo processes (the container entry, `node dist/silo/main.js`)
 * on a real nats-server with JetStream streams, state in dynalite (its own process). An
 * implicit and a durable explicit subscriber keep getting every item, in order, after a
 * SIGKILL of the silo that hosts them, and after a nats-server restart.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, natsCluster, natsStreams } from 'granary';
import { startDynaliteProcess, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { NatsServer } from '../support/nats-server.js';
import { REPO, spawnSilo, type SiloProcess } from '../process/silo-process.js';

interface Got { item: unknown; seq: number; pid: number }
interface Subscriber { got(): Promise<Got[]>; pid(): Promise<number>; follow(ns: string, key: string): Promise<void> }

let nats: NatsServer;
let dynamo: DynamoEndpoint;
const silos: SiloProcess[] = [];
let client: GrainClient | undefined;
let streams: ReturnType<typeof natsStreams> | undefined;

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist', 'silo', 'main.js'))) throw new Error('dist/silo/main.js is missing: run `npm run build` first (npm test does)');
  [nats, dynamo] = await Promise.all([NatsServer.start(), startDynaliteProcess()]);
}, 60_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await streams?.close().catch(() => undefined);
  for (const p of silos) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await Promise.all([nats?.stop(), dynamo?.close()]);
});

const seqs = (got: Got[]) => [...new Set(got.map((g) => g.seq))];
const inOrder = (got: Got[]) => got.every((g, i) => i === 0 || got[i - 1]!.seq <= g.seq);

describe('streams on a 3-process NATS cluster', () => {
  it('subscribers get every item in order across a SIGKILL of their silo and a nats-server restart', async () => {
    const cluster = `streams${process.pid}`;
    const env: Record<string, string> = {
      GRANARY_NATS_URL: nats.url, GRANARY_CLUSTER: cluster, GRANARY_DRAIN_TIMEOUT_MS: '5000',
      GRANARY_GRAINS: join(REPO, 'test', 'process', 'fixtures', 'stream-grains.mjs'),
      GRANARY_DYNAMODB_TABLE: uniqueTable('granary_streams_procs'), GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint,
      GRANARY_DYNAMODB_CREATE_TABLE: '1', AWS_REGION: 'local',
    };
    silos.push(await spawnSilo(env)); // the first one creates the table
    silos.push(...(await Promise.all([spawnSilo(env), spawnSilo(env)])));
    streams = natsStreams({ servers: nats.url, name: cluster });
    client = await GrainClient.connect({ cluster: natsCluster({ servers: nats.url, name: cluster }), streams });

    const log = client.getGrain<Subscriber>('OrderLog', 'o1');
    const auditor = client.getGrain<Subscriber>('Auditor', 'a1');
    await auditor.follow('orders', 'o1');
    const s = client.getStream('orders', 'o1');
    expect(await s.publish({ n: 1 })).toEqual({ seq: 1 });
    await expect.poll(async () => seqs(await log.got()), { timeout: 20_000, interval: 200 }).toEqual([1]);
    await expect.poll(async () => seqs(await auditor.got()), { timeout: 20_000, interval: 200 }).toEqual([1]);

    // SIGKILL the silo hosting the implicit subscriber (and, if elsewhere, the auditor's).
    const victims = new Set([await log.pid(), await auditor.pid()]);
    for (const p of silos) if (victims.has(p.child.pid!)) { p.child.kill('SIGKILL'); await p.exited; }
    expect(await s.publish({ n: 2 })).toEqual({ seq: 2 });
    expect(await s.publish({ n: 3 })).toEqual({ seq: 3 });
    await expect.poll(async () => { try { return seqs(await log.got()); } catch { return []; } }, { timeout: 45_000, interval: 250 }).toEqual([1, 2, 3]);
    await expect.poll(async () => { try { return seqs(await auditor.got()); } catch { return []; } }, { timeout: 45_000, interval: 250 }).toEqual([1, 2, 3]);
    const got = await log.got();
    expect(inOrder(got)).toBe(true);
    expect(victims.has(got[got.length - 1]!.pid)).toBe(false); // delivered by a surviving process

    // nats-server restarts (store kept): publishing works again, and delivery resumes.
    await nats.restart();
    await expect.poll(async () => { try { return (await s.publish({ n: 4 })).seq; } catch { return 0; } }, { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(4);
    await expect.poll(async () => { try { return seqs(await log.got()).slice(0, 4); } catch { return []; } }, { timeout: 45_000, interval: 250 }).toEqual([1, 2, 3, 4]);
    await expect.poll(async () => { try { return seqs(await auditor.got()).slice(0, 4); } catch { return []; } }, { timeout: 45_000, interval: 250 }).toEqual([1, 2, 3, 4]);
    expect(inOrder(await auditor.got())).toBe(true);
  }, 240_000);
});
