/** The NATS grain directory on a real nats-server: one winner per grain, safe keys, dead entries replaced once. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { grainId, type ClusterConnection, type DirectoryEntry } from 'granary/internal';
import { NatsServer } from '../support/nats-server.js';
import { closeAll, connectClient, freshCluster, joinSilo, until } from './helpers.js';

let server: NatsServer;
const open: ClusterConnection[] = [];
beforeAll(async () => { server = await NatsServer.start(); });
afterEach(async () => { await closeAll(open); });
afterAll(async () => { await server?.stop(); });

const track = <T extends ClusterConnection>(c: T): T => { open.push(c); return c; };
const entry = (c: ClusterConnection, activation: string): DirectoryEntry => ({ silo: c.siloId!, activation });

describe('NATS grain directory', () => {
  it('many concurrent registers of one grain from three silos → exactly one winner, seen by all', async () => {
    const provider = freshCluster(server.url);
    const silos = [track(await joinSilo(provider)), track(await joinSilo(provider)), track(await joinSilo(provider))];
    for (const s of silos) await until(() => s.membership.live().length === 3, 20_000, 'all silos see each other');
    for (let round = 0; round < 5; round++) {
      const id = grainId('Counter', `race-${round}`);
      const attempts = Array.from({ length: 60 }, (_, i) => {
        const s = silos[i % 3]!;
        return s.directory.register(id, entry(s, `act-${i}`));
      });
      const results = await Promise.all(attempts);
      const winners = new Set(results.map((r) => `${r.silo}#${r.activation}`));
      expect(winners.size).toBe(1);
      const [winner] = results;
      expect(await silos[0]!.directory.lookup(id)).toEqual(winner);
    }
  });

  it('grain ids with "/", spaces, unicode, empty and very long keys are stored safely and never collide', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider));
    const client = track(await connectClient(provider));
    const keys = ['a/b/c', 'with space', 'ünïcødé ✓ 🚀', '', '.', 'a.b', '*', '>', 'x'.repeat(5000), 'x'.repeat(4999) + 'y', 'A', 'a'];
    const ids = keys.map((k) => grainId('Type.With.Dots', k));
    for (const [i, id] of ids.entries()) expect(await a.directory.register(id, entry(a, `n${i}`))).toEqual(entry(a, `n${i}`));
    for (const [i, id] of ids.entries()) expect(await client.directory.lookup(id)).toEqual(entry(a, `n${i}`));
    for (const [i, id] of ids.entries()) await a.directory.unregister(id, entry(a, `n${i}`));
    for (const id of ids) expect(await client.directory.lookup(id)).toBeUndefined();
  });

  it('unregister removes only the caller\'s own entry; a later register takes the key again', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider));
    const b = track(await joinSilo(provider));
    await until(() => b.membership.isLive(a.siloId!), 20_000, 'b sees a');
    const id = grainId('Counter', 'mine');
    expect(await a.directory.register(id, entry(a, '1'))).toEqual(entry(a, '1'));
    await b.directory.unregister(id, entry(b, '1')); // not b's
    await a.directory.unregister(id, entry(a, '0')); // an older activation of a
    expect(await b.directory.lookup(id)).toEqual(entry(a, '1'));
    expect(await b.directory.register(id, entry(b, '7'))).toEqual(entry(a, '1')); // a is live: a wins
    await a.directory.unregister(id, entry(a, '1'));
    expect(await b.directory.lookup(id)).toBeUndefined();
    // A deleted key (a DEL marker in the bucket) can be registered again, once.
    const again = await Promise.all([a.directory.register(id, entry(a, '2')), b.directory.register(id, entry(b, '8'))]);
    expect(new Set(again.map((e) => `${e.silo}#${e.activation}`)).size).toBe(1);
  });

  it('a deactivated grain leaves nothing behind: delete markers are removed, and a registration racing the removal is kept', async () => {
    const name = `markers-${process.pid}`;
    const provider = freshCluster(server.url, { name });
    const a = track(await joinSilo(provider));
    const b = track(await joinSilo(provider));
    await until(() => b.membership.isLive(a.siloId!), 20_000, 'b sees a');
    const bucket = `KV_granary-${name}-directory`;
    const nc = await connect({ servers: server.url });
    const jsm = await nc.jetstreamManager();
    const messages = async () => (await jsm.streams.info(bucket)).state.messages;
    try {
      const ids = Array.from({ length: 200 }, (_, i) => grainId('Counter', `g${i}`));
      for (const id of ids) await a.directory.register(id, entry(a, '1'));
      expect(await messages()).toBe(200);
      await Promise.all(ids.map((id) => a.directory.unregister(id, entry(a, '1'))));
      // While the markers are being removed, b registers 20 of those grains again.
      const again = ids.slice(0, 20);
      await Promise.all(again.map((id) => b.directory.register(id, entry(b, '2'))));
      const markers = (a.directory as unknown as { markers: { removed: number; failed: number } }).markers;
      await until(() => markers.removed + markers.failed === 200, 20_000, 'every marker handled');
      expect(markers.failed).toBe(0);
      // Before: 200 delete markers stayed forever. Now only the live entries remain.
      expect(await messages()).toBe(20);
      for (const id of again) expect(await a.directory.lookup(id)).toEqual(entry(b, '2'));
      for (const id of ids.slice(20)) expect(await b.directory.lookup(id)).toBeUndefined();
    } finally {
      await nc.close();
    }
  });

  it('an entry of a dead silo is replaced — by exactly one of several replacers', async () => {
    const provider = freshCluster(server.url, { heartbeatIntervalMs: 1000, staleAfterMs: 10_000 });
    const dead = await joinSilo(provider);
    const silos = [track(await joinSilo(provider)), track(await joinSilo(provider)), track(await joinSilo(provider))];
    for (const s of silos) await until(() => s.membership.live().length === 4, 20_000, 'all silos see each other');
    const grains = Array.from({ length: 20 }, (_, i) => grainId('Counter', `orphan-${i}`));
    for (const g of grains) await dead.directory.register(g, entry(dead, 'old'));
    await dead.close(); // crash: entries and membership stay behind
    // While membership still counts it live, its entries win.
    expect(await silos[0]!.directory.register(grains[0]!, entry(silos[0]!, 'new'))).toEqual(entry(dead, 'old'));
    silos[0]!.membership.suspect(dead.siloId!);
    for (const s of silos) await until(() => !s.membership.isLive(dead.siloId!), 20_000, 'the dead silo is out');
    for (const g of grains) {
      const results = await Promise.all(silos.flatMap((s) => [s.directory.register(g, entry(s, 'new1')), s.directory.register(g, entry(s, 'new2'))]));
      const winners = new Set(results.map((r) => `${r.silo}#${r.activation}`));
      expect(winners.size).toBe(1);
      expect(results[0]!.silo).not.toBe(dead.siloId);
    }
  });

  it('an entry naming a silo that never existed is replaced; one naming a silo that just joined is not', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider));
    const nc = await connect({ servers: server.url });
    const kv = await nc.jetstream().views.kv(`granary-${provider.name.slice(5)}-directory`);
    const id = grainId('Counter', 'ghost');
    const key = Buffer.from(String(id)).toString('base64url');
    await kv.put(key, JSON.stringify({ silo: '01GHOSTGHOSTGHOSTGHOSTGHOS', activation: '1' }));
    expect(await a.directory.register(id, entry(a, '1'))).toEqual(entry(a, '1'));

    // A brand-new silo's entry is checked against the bucket, not just a's (maybe late) view.
    const b = track(await joinSilo(provider));
    const fresh = grainId('Counter', 'fresh');
    await kv.put(Buffer.from(String(fresh)).toString('base64url'), JSON.stringify(entry(b, '9')));
    expect(await a.directory.register(fresh, entry(a, '1'))).toEqual(entry(b, '9'));
    await nc.close();
  });
});
