/**
 * nats-server loses its store (restarted on the same port with an empty JetStream directory):
 * docs/nats.md says the buckets are re-created after the reconnect, the membership watch
 * restarts and heartbeats go out at once. The silos must recover: every silo sees every
 * other again, and grains are placed once each, whichever silo or client calls them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { GrainClient, Silo, SiloUnavailableError, memoryStorage, natsCluster } from 'granary';
import { Counter } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { sleep } from './helpers.js';

const servers: NatsServer[] = [];
afterAll(async () => { await Promise.all(servers.map((s) => s.stop())); });

/** Waits (polling) until `check` holds; the test's own timeout bounds it. */
async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(20);
}

/** What the server holds now: its streams, and the keys of the membership bucket (if it exists). */
async function serverState(url: string, membershipBucket: string): Promise<{ streams: string[]; members: string[] }> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const streams = (await jsm.streams.names().next()).sort();
    if (!streams.includes(`KV_${membershipBucket}`)) return { streams, members: [] };
    const kv = await nc.jetstream().views.kv(membershipBucket, { bindOnly: true });
    const members: string[] = [];
    for await (const k of await kv.keys()) members.push(k);
    return { streams, members: members.sort() };
  } finally {
    await nc.close();
  }
}

describe('nats-server loses its store', () => {
  it('the buckets are re-created, membership recovers on every silo, and new grains get one activation each', async () => {
    const server = await NatsServer.start();
    servers.push(server);
    const name = `lost${process.pid}`;
    const cluster = () => natsCluster({ servers: server.url, name, heartbeatIntervalMs: 200, staleAfterMs: 1000 });
    const storage = memoryStorage();
    const silos = [await Silo.start({ grains: [Counter], cluster: cluster(), storage }), await Silo.start({ grains: [Counter], cluster: cluster(), storage })];
    const client = await GrainClient.connect({ cluster: cluster() });
    const everyone = silos.map((s) => s.id).sort();
    const membership = `granary-${name}-silos`;
    const buckets = [`KV_granary-${name}-directory`, `KV_${membership}`];
    try {
      for (let i = 0; i < 10; i++) expect(await client.getGrain(Counter, `before${i}`).add(1)).toBe(1);
      expect(await serverState(server.url, membership)).toEqual({ streams: buckets, members: everyone });

      await server.restartEmpty();

      // Each silo, once reconnected, re-creates the buckets and announces itself again.
      await eventually(async () => (await serverState(server.url, membership)).members.join() === everyone.join());
      expect((await serverState(server.url, membership)).streams).toEqual(buckets);
      for (const s of silos) expect(s.connection.membership.live().map((m) => m.id).sort()).toEqual(everyone);
      // The client reconnects on its own; until then its calls fail fast as retryable (docs/nats.md, Outages).
      await eventually(() => client.getGrain(Counter, 'probe').get().then(() => true, (err: unknown) => {
        if (!(err instanceof SiloUnavailableError)) throw err;
        return false;
      }));

      // The directory works again: each new grain is activated once, whoever calls first.
      const fresh = Array.from({ length: 10 }, (_, i) => `after${i}`);
      await Promise.all(fresh.map((k, i) => (i % 3 === 2 ? client : silos[i % 3]!).getGrain(Counter, k).add(1)));
      for (const k of fresh) {
        expect(await silos[0]!.getGrain(Counter, k).add(1)).toBe(2);
        expect(await silos[1]!.getGrain(Counter, k).add(1)).toBe(3);
        expect(await client.getGrain(Counter, k).get()).toBe(3);
      }
      const hosts = fresh.map((k) => silos.filter((s) => s.catalog.get(`Counter/${k}`) !== undefined).length);
      expect(hosts).toEqual(fresh.map(() => 1));
      // Grains activated before the loss still answer.
      for (let i = 0; i < 10; i++) expect(await client.getGrain(Counter, `before${i}`).get()).toBe(1);
    } finally {
      await client.close();
      await Promise.all(silos.map((s) => s.stop()));
    }
  });
});
