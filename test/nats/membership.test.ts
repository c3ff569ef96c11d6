/** NATS membership on a real nats-server: join, status, leave, stale heartbeats, "no responders". */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { jsonLogger, type ClusterConnection, type SiloInfo } from 'granary/internal';
import { NatsServer } from '../support/nats-server.js';
import { closeAll, connectClient, freshCluster, ids, joinSilo, siloInfo, sleep, until } from './helpers.js';

let server: NatsServer;
const open: ClusterConnection[] = [];
beforeAll(async () => { server = await NatsServer.start(); });
afterEach(async () => { await closeAll(open); });
afterAll(async () => { await server?.stop(); });

const track = <T extends ClusterConnection>(c: T): T => { open.push(c); return c; };

/** Why each silo was declared dead, as the connections' logs say. */
function verdicts(): { logger: ReturnType<typeof jsonLogger>; why(siloId: string): string[] } {
  const lines: { msg?: string; dead?: string; why?: string }[] = [];
  return {
    logger: jsonLogger({ level: 'warn', write: (line) => lines.push(JSON.parse(line) as (typeof lines)[number]) }),
    why: (siloId) => lines.filter((l) => l.msg === 'silo declared dead' && l.dead === siloId).map((l) => l.why ?? ''),
  };
}

describe('NATS membership', () => {
  it('a connection knows the live silos as soon as connect resolves, and hears of joins', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider));
    const b = track(await joinSilo(provider));
    const client = track(await connectClient(provider));
    // Synchronous and complete right after connect: the initial watch has been read.
    expect(ids(client)).toEqual([a.siloId, b.siloId].sort());
    expect(client.membership.isLive(a.siloId!)).toBe(true);
    expect(client.siloId).toBeUndefined();

    const seen: (readonly SiloInfo[])[] = [];
    client.membership.onChange((live) => seen.push(live));
    const c = track(await joinSilo(provider));
    await until(() => client.membership.isLive(c.siloId!), 20_000, 'client sees the third silo');
    expect(seen.at(-1)!.map((s) => s.id).sort()).toEqual([a.siloId, b.siloId, c.siloId].sort());
    await until(() => a.membership.isLive(c.siloId!), 20_000, 'a sees the third silo');
    expect(ids(a)).toEqual(ids(client));
    // Its own entry is live in a silo's view at once after join.
    expect(c.membership.isLive(c.siloId!)).toBe(true);
  });

  it('status changes reach everyone; leave removes the entry at once', async () => {
    // Stale only after 10 minutes: when a sees b go, it saw the delete, not a stale heartbeat.
    const provider = freshCluster(server.url, { staleAfterMs: 600_000 });
    const a = track(await joinSilo(provider));
    const b = track(await joinSilo(provider));
    await until(() => a.membership.isLive(b.siloId!), 20_000, 'a sees b');
    const changes: string[] = [];
    a.membership.onChange((live) => changes.push(live.map((s) => `${s.id === b.siloId ? 'b' : 'a'}:${s.status}`).sort().join(',')));

    await b.setStatus('draining');
    await until(() => a.membership.live().find((s) => s.id === b.siloId)?.status === 'draining', 20_000, 'a sees b draining');
    await b.leave();
    await until(() => !a.membership.isLive(b.siloId!), 20_000, 'a sees b leave');
    expect(changes).toEqual(['a:active,b:draining', 'a:active']);

    // The membership bucket no longer holds b.
    const nc = await connect({ servers: server.url });
    const kv = await nc.jetstream().views.kv(`granary-${(provider.name).slice(5)}-silos`);
    expect((await kv.get(b.siloId!))?.operation).not.toBe('PUT');
    await nc.close();
  });

  it('heartbeats keep live silos live; a crashed silo goes when its heartbeat is stale', async () => {
    const log = verdicts();
    const provider = freshCluster(server.url, { logger: log.logger }); // heartbeat 200 ms, stale after 1000 ms
    const a = track(await joinSilo(provider));
    const b = track(await joinSilo(provider));
    const client = track(await connectClient(provider));
    const removals: string[] = [];
    let last = new Set(ids(client));
    client.membership.onChange((live) => {
      const now = new Set(live.map((s) => s.id));
      for (const id of last) if (!now.has(id)) removals.push(id);
      last = now;
    });
    // Several stale periods pass: nobody live is declared dead.
    await sleep(2500);
    expect(removals).toEqual([]);
    expect(ids(client)).toEqual([a.siloId, b.siloId].sort());

    // b crashes: no goodbye, its entry stays until stale. Nobody calls it, so only the
    // heartbeat verdict can find it.
    await b.close();
    await until(() => !client.membership.isLive(b.siloId!), 20_000, 'b declared dead');
    expect(removals).toEqual([b.siloId]);
    // The verdict was the stale heartbeat's (confirmed by a ping), whoever made it first. It is
    // logged once the delete is through, which the watch may report to the client sooner.
    await until(() => log.why(b.siloId!).length > 0, 5_000, 'the verdict on b logged');
    for (const why of log.why(b.siloId!)) expect(why).toMatch(/^no heartbeat for \d+ ms, and (no responders|no answer within \d+ ms)$/);
    await until(() => !a.membership.isLive(b.siloId!), 20_000, 'a also drops b');
    expect(ids(a)).toEqual([a.siloId]);
  });

  it('suspect(): a silo that answers "no responders" is dead at once; a live one stays', async () => {
    // Stale only after 10 minutes: whatever declares b dead here is the suspicion.
    const log = verdicts();
    const provider = freshCluster(server.url, { heartbeatIntervalMs: 1000, staleAfterMs: 600_000, logger: log.logger });
    const a = track(await joinSilo(provider));
    const b = track(await joinSilo(provider));
    const client = track(await connectClient(provider));
    client.membership.suspect(a.siloId!);
    await sleep(300);
    expect(client.membership.isLive(a.siloId!)).toBe(true);

    await b.close();
    expect(client.membership.isLive(b.siloId!)).toBe(true); // heartbeat still fresh (stale after 10 min)
    // The server may not have noticed b's socket close yet: suspect again until a ping says "no responders".
    await until(() => { client.membership.suspect(b.siloId!); return !client.membership.isLive(b.siloId!); }, 20_000, 'b declared dead after suspect');
    expect(log.why(b.siloId!)).toEqual(['no responders']);
    // The verdict is shared: the entry was deleted, so a sees it too (its own heartbeat verdict is 10 minutes away).
    await until(() => !a.membership.isLive(b.siloId!), 20_000, 'a hears b is dead');
  });

  it('a new connection does not count a long-dead silo as live', async () => {
    const provider = freshCluster(server.url);
    const dead = await joinSilo(provider);
    await dead.close(); // crash: its entry stays in the bucket
    await sleep(1300); // past staleAfterMs, with nobody around to clear it
    const a = track(await joinSilo(provider));
    expect(ids(a)).toEqual([a.siloId]);
    const client = track(await connectClient(provider));
    expect(ids(client)).toEqual([a.siloId]);
  });

  it('a silo whose entry vanished (declared dead by mistake, or lost) announces itself again', async () => {
    // Heartbeats a minute apart: what puts the entry back is the silo seeing it vanish.
    const provider = freshCluster(server.url, { heartbeatIntervalMs: 60_000, staleAfterMs: 600_000 });
    const a = track(await joinSilo(provider));
    const client = track(await connectClient(provider));
    const nc = await connect({ servers: server.url });
    const kv = await nc.jetstream().views.kv(`granary-${provider.name.slice(5)}-silos`);
    const seen: boolean[] = [];
    client.membership.onChange((live) => seen.push(live.some((s) => s.id === a.siloId)));
    await kv.delete(a.siloId!);
    // Gone for a moment, then back well before its next heartbeat would be due anyway.
    await until(() => seen.length >= 2, 20_000, 'client sees a go and come back');
    expect(seen.slice(0, 2)).toEqual([false, true]);
    expect(client.membership.isLive(a.siloId!)).toBe(true);
    expect((await kv.get(a.siloId!))?.operation).toBe('PUT');
    await nc.close();
  });

  it('rejects unusable settings clearly', async () => {
    expect(() => freshCluster(server.url, { name: 'has space' } as never)).toThrow(/cluster name/);
    expect(() => freshCluster(server.url, { heartbeatIntervalMs: 1000, staleAfterMs: 1500 })).toThrow(/staleAfterMs/);
    expect(siloInfo().id).toMatch(/^[0-9A-Z]{26}$/);
  });
});
