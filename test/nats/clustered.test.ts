/**
 * NATS itself clustered: three nats-servers joined by routes, the membership and directory
 * buckets at 3 replicas (GRANARY_NATS_REPLICAS=3 / `kvReplicas: 3`), as deploy/compose.yaml and
 * the k8s manifests run it. One server is SIGKILLed under load: the silos and the client move
 * to the survivors, membership and the directory keep every entry (no grain is activated a
 * second time), and calls go on.
 */
import { connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, memoryStorage, natsCluster } from 'granary';
import { ActivationStatus } from 'granary/internal';
import { Counter } from '../../grains/index.js';
import { Lifecycle, lifecycleLog } from '../fixtures/grains.js';
import { NatsServer } from '../support/nats-server.js';
import { NatsServerCluster } from '../support/nats-cluster.js';
import { sleep, until } from './helpers.js';

const clusters: { stop(): Promise<void> }[] = [];
afterAll(async () => { await Promise.all(clusters.map((c) => c.stop())); });

describe('clustered NATS (3 servers, buckets at 3 replicas)', () => {
  it('a SIGKILLed nats-server under load: silos reconnect to the survivors, no directory or membership state is lost', async () => {
    const nats = await NatsServerCluster.start();
    clusters.push(nats);
    const name = 'clustered';
    const cluster = () => natsCluster({ servers: nats.urls, name, kvReplicas: 3, heartbeatIntervalMs: 200, staleAfterMs: 1500 });
    const storage = memoryStorage();
    const silos: Silo[] = [];
    for (let i = 0; i < 3; i++) silos.push(await Silo.start({ grains: [Counter], cluster: cluster(), storage }));
    // Above the KV timeout (5 s): a bucket whose stream leader died has none for a few seconds,
    // and a grain's first call waits for the directory meanwhile (docs/nats.md, "Clustered NATS").
    const client = await GrainClient.connect({ cluster: cluster(), responseTimeoutMs: 10_000 });
    try {
      // The buckets are replicated on all three servers.
      const nc = await connect({ servers: nats.urls });
      const jsm = await nc.jetstreamManager();
      for (const bucket of [`granary-${name}-silos`, `granary-${name}-directory`]) {
        const info = await jsm.streams.info(`KV_${bucket}`);
        expect(info.config.num_replicas, bucket).toBe(3);
        expect(1 + (info.cluster?.replicas?.length ?? 0), bucket).toBe(3);
      }
      await nc.close();

      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      const acked = new Map<string, number>(keys.map((k) => [k, 0]));
      for (const k of keys) { await client.getGrain(Counter, k).add(1); acked.set(k, 1); }
      expect(silos.reduce((n, s) => n + s.activationCount('Counter'), 0)).toBe(keys.length);

      const outcomes: { start: number; error?: unknown }[] = [];
      let running = true;
      const worker = async (w: number) => {
        for (let i = 0; running; i++) {
          const k = keys[(w * 7 + i) % keys.length]!;
          const start = performance.now();
          try {
            await client.getGrain(Counter, k).add(1);
            acked.set(k, acked.get(k)! + 1);
            outcomes.push({ start });
          } catch (error) {
            outcomes.push({ start, error });
            await sleep(20);
          }
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      await until(() => outcomes.filter((o) => o.error === undefined).length >= 100, 30_000, 'calls succeed before the kill');

      // Kill the server holding the most connections, so that the loss is felt.
      const counts = await nats.connectionCounts();
      const victim = counts.indexOf(Math.max(...counts));
      const killedAt = performance.now();
      await nats.servers[victim]!.kill('SIGKILL');
      // Recovered: 200 calls succeeded after the last failure (and a second after the kill).
      const lastFailure = () => Math.max(killedAt + 1000, ...outcomes.filter((o) => o.error !== undefined).map((o) => o.start));
      await until(() => outcomes.filter((o) => o.start > lastFailure() && o.error === undefined).length >= 200, 60_000, '200 calls succeed after the last failure');
      running = false;
      await Promise.all(workers);

      const failures = outcomes.filter((o) => o.error !== undefined);
      console.log(`clustered NATS: killed n${victim + 1} (held ${counts[victim]} of ${counts.reduce((a, b) => a + b, 0)} connections); `
        + `${outcomes.length} calls, ${failures.length} failed`
        + (failures.length > 0 ? ` from ${(failures[0]!.start - killedAt).toFixed(0)} ms to ${(failures.at(-1)!.start - killedAt).toFixed(0)} ms after the kill: ${[...new Set(failures.map((f) => (f.error as Error).message))].slice(0, 6).join(' | ')}` : ''));
      // No call fails: a call whose connection dropped, whose directory read found no stream
      // leader yet (JetStream elects one within seconds), or whose request or reply was lost
      // between servers is sent again with its id (docs/exactly-once.md).
      expect(failures.map((f) => `${(f.error as Error).name}: ${(f.error as Error).message}`).slice(0, 5)).toEqual([]);
      // Every silo is a member again, seen by every silo. (A silo whose connection was moving to
      // a survivor answers pings with "no responders" for a moment and may be declared dead;
      // it announces itself again once reconnected: see docs/nats.md, "Clustered NATS".)
      const ids = silos.map((x) => x.id).sort();
      await until(() => silos.every((s) => s.connection.membership.live().map((m) => m.id).sort().join() === ids.join()), 30_000, 'every silo sees all three again');
      // Single activation: each grain is active on one silo at most. (The directory keeps its
      // entries on the survivors; a silo falsely declared dead gives its activations up first.)
      // Serving (valid) on one silo at most, now; a silo that was told it had been declared
      // dead may still be giving its activations up (deactivating, serving nothing): those
      // leave its catalog within moments.
      const hosts = (valid: boolean) => keys.map((k) => silos.filter((s) => {
        const act = s.catalog.get(`Counter/${k}`);
        return act !== undefined && (!valid || act.status === ActivationStatus.Valid);
      }).length);
      expect(hosts(true).filter((n) => n > 1)).toEqual([]);
      await until(() => hosts(false).every((n) => n <= 1), 10_000, 'every grain in one silo\'s catalog at most');
      // No acknowledged add was lost, and none was applied twice.
      for (const k of keys) expect(await client.getGrain(Counter, k).get(), k).toBe(acked.get(k)!);
      // The survivors serve the replicated buckets: a new grain registers and is found.
      expect(await client.getGrain(Counter, 'after-the-kill').add(5)).toBe(5);
    } finally {
      await client.close();
      await Promise.all(silos.map((s) => s.stop()));
    }
  }, 180_000);
});

describe('a silo declared dead while it runs', () => {
  it('gives up its activations (onDeactivate("fenced")), then announces itself again; its grains activate anew on their next call', async () => {
    const server = await NatsServer.start();
    clusters.push(server);
    const name = 'fencing';
    const cluster = () => natsCluster({ servers: server.url, name, heartbeatIntervalMs: 200, staleAfterMs: 1500 });
    const storage = memoryStorage();
    const silo = await Silo.start({ grains: [Lifecycle], cluster: cluster(), storage });
    const other = await Silo.start({ grains: [Lifecycle], cluster: cluster(), storage });
    const client = await GrainClient.connect({ cluster: cluster() });
    try {
      const keys = ['f1', 'f2', 'f3'];
      for (const k of keys) await client.getGrain(Lifecycle, k).set(1);
      const hostedBefore = keys.filter((k) => silo.catalog.get(`Lifecycle/${k}`) !== undefined);
      lifecycleLog.length = 0;

      // What a peer does when it declares the silo dead: delete its membership entry.
      const nc = await connect({ servers: server.url });
      const kv = await (await nc.jetstream()).views.kv(`granary-${name}-silos`);
      await kv.delete(silo.id);
      await nc.close();

      await until(() => silo.activationCount('Lifecycle') === 0, 10_000, 'the silo gives up its activations');
      await until(() => [silo, other].every((s) => s.connection.membership.live().some((m) => m.id === silo.id)), 10_000, 'the silo is a member again');
      expect(lifecycleLog.filter((l) => l.endsWith(':fenced')).sort()).toEqual(hostedBefore.map((k) => `deactivate:${k}:fenced`).sort());
      // Each grain activates again on its next call, once, with its state.
      for (const k of keys) expect(await client.getGrain(Lifecycle, k).get()).toMatchObject({ value: 1 });
      const hosts = keys.map((k) => [silo, other].filter((s) => s.catalog.get(`Lifecycle/${k}`) !== undefined).length);
      expect(hosts).toEqual([1, 1, 1]);
    } finally {
      await client.close();
      await Promise.all([silo.stop(), other.stop()]);
    }
  }, 60_000);
});
