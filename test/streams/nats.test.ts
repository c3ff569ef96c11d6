/**
 * Streams on NATS JetStream, on a real nats-server: the provider conformance suite, the
 * streams suite on a TestCluster whose silos meet over NATS, and the faults: NATS down →
 * publish rejects with SiloUnavailableError quickly; after a nats-server restart (store kept)
 * the items are there and delivery resumes from the last delivered seq.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsCluster, natsStreams, SiloUnavailableError, TestCluster } from 'granary';
import { NatsServer } from '../support/nats-server.js';
import { ChatArchive, Listener } from './grains.js';
import { streamProviderConformance } from './provider-conformance.js';
import { STREAM_GRAINS, streamsSuite } from './suite.js';

let server: NatsServer;
beforeAll(async () => { server = await NatsServer.start(); });
afterAll(async () => { await server?.stop(); });

let n = 0;
const name = () => `st${process.pid}-${++n}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

streamProviderConformance('NATS JetStream', async ({ retention }) => {
  const provider = natsStreams({ servers: server.url, name: name(), retention, storage: 'memory' });
  return { provider, close: () => provider.close() };
});

/** Until no delivery happened for a while and none is running (NATS announces appends asynchronously). */
async function quiet(cluster: TestCluster): Promise<void> {
  let last = -1;
  for (;;) {
    await cluster.settle();
    const delivered = cluster.silos.reduce((k, s) => k + (s.streams?.counters.delivered ?? 0) + (s.streams?.counters.retried ?? 0), 0);
    const active = cluster.silos.reduce((k, s) => k + (s.streams?.counters.active ?? 0), 0);
    if (delivered === last && active === 0) return;
    last = delivered;
    await sleep(150);
  }
}

async function natsTestCluster(silos = 3) {
  const cluster = name();
  const streams = natsStreams({ servers: server.url, name: cluster, storage: 'file' });
  const tc = await TestCluster.start({
    grains: STREAM_GRAINS, silos,
    cluster: natsCluster({ servers: server.url, name: cluster, heartbeatIntervalMs: 200, staleAfterMs: 1000 }),
    streams,
    streamDelivery: { retry: { maxDelayMs: 500 } },
  });
  return { tc, streams };
}

streamsSuite('TestCluster over NATS (JetStream provider)', async () => {
  const { tc, streams } = await natsTestCluster();
  return {
    cluster: tc,
    client: tc.client,
    settle: () => quiet(tc),
    advance: async (ms) => { await quiet(tc); await tc.advanceTime(ms); await quiet(tc); },
    close: async () => { await tc.stop(); await streams.close(); },
  };
});

describe('NATS JetStream faults', () => {
  it('NATS down: publish rejects with SiloUnavailableError quickly; after a restart items are kept and delivery resumes', async () => {
    const { tc, streams } = await natsTestCluster(2);
    try {
      const key = `room-${n}`;
      const s = tc.client.getStream('chat', key);
      await s.publish('before');
      const l = tc.client.getGrain(Listener, `l-${n}`);
      await l.follow('chat', key, { from: 1 });
      await quiet(tc);
      expect((await tc.client.getGrain(ChatArchive, key).got()).map((g) => g.item)).toEqual(['before']);

      await server.kill();
      const started = performance.now();
      await expect(s.publish('while down')).rejects.toBeInstanceOf(SiloUnavailableError);
      expect(performance.now() - started).toBeLessThan(10_000); // the bound is the publish timeout (2 s), not a hang
      await server.restart();
      // The client and silos reconnect; the item appended before the outage is still there.
      await expect.poll(async () => { try { return (await s.publish('after')).seq; } catch { return 0; } }, { timeout: 20_000, interval: 250 }).toBeGreaterThan(1);
      await expect.poll(async () => (await tc.client.getGrain(ChatArchive, key).got()).map((g) => g.item), { timeout: 20_000, interval: 250 })
        .toEqual(['before', 'after']);
      await expect.poll(async () => (await l.got()).map((g) => g.item), { timeout: 20_000, interval: 250 }).toEqual(['before', 'after']);
    } finally {
      await tc.stop();
      await streams.close();
    }
  }, 60_000);

  it('maps every key of a namespace to one JetStream stream', async () => {
    const cluster = name();
    const p = natsStreams({ servers: server.url, name: cluster, storage: 'memory' });
    try {
      for (let i = 0; i < 200; i++) await p.append('many', `key ${i}/é`, String(i));
      const { connect } = await import('nats');
      const nc = await connect({ servers: server.url });
      const jsm = await nc.jetstreamManager();
      const names: string[] = [];
      for await (const si of jsm.streams.list()) if (si.config.name.includes(cluster)) names.push(si.config.name);
      // One stream for the namespace's 200 keys, beside the KV bucket of subscriptions and cursors.
      expect(names.sort()).toEqual([`GRANARY_${cluster}_NS_many`, `KV_granary_${cluster}_streams`]);
      await nc.close();
      expect((await p.read('many', 'key 7/é', 1, 10)).items).toEqual([{ seq: 1, payload: '7' }]);
      expect((await p.streams()).filter((s) => s.namespace === 'many')).toHaveLength(200);
    } finally {
      await p.close();
    }
  }, 60_000);
});
