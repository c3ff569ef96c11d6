/** Silo-to-silo request/reply over a real nats-server: batching, no responders, timeouts, max payload, drain. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, SiloUnavailableError, TimeoutError, MethodNotFoundError } from 'granary';
import type { ClusterConnection } from 'granary/internal';
import { NatsServer } from '../support/nats-server.js';
import { closeAll, connectClient, freshCluster, joinSilo, sleep, until } from './helpers.js';
import { workloadRandom } from '../support/random.js';

let server: NatsServer;
let small: NatsServer;
const open: ClusterConnection[] = [];
beforeAll(async () => { [server, small] = await Promise.all([NatsServer.start(), NatsServer.start({ maxPayload: 64 * 1024 })]); });
afterEach(async () => { await closeAll(open); });
afterAll(async () => { await Promise.all([server?.stop(), small?.stop()]); });

const track = <T extends ClusterConnection>(c: T): T => { open.push(c); return c; };

/** A one-shot event to wait on (instead of sleeping and hoping it happened). */
function signal(): { fire(): void; fired: Promise<void> } {
  let fire!: () => void;
  const fired = new Promise<void>((r) => { fire = r; });
  return { fire, fired };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('NATS transport', () => {
  it('answers each of many concurrent requests with its own reply (batched per silo)', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider, async (p) => `a:${p}`));
    const delay = workloadRandom('transport: reply delays'); // replies come back out of order
    const b = track(await joinSilo(provider, async (p) => { await sleep(delay() * 5); return `b:${p}`; }));
    const client = track(await connectClient(provider));
    const payloads = Array.from({ length: 2000 }, (_, i) => `${i}:ünï✓🚀:${'x'.repeat(i % 300)}`);
    const replies = await Promise.all(payloads.map((p, i) => client.transport.request(i % 2 ? a.siloId! : b.siloId!, p, 5000)));
    replies.forEach((r, i) => expect(r).toBe(`${i % 2 ? 'a' : 'b'}:${payloads[i]}`));
    // Silo to silo, too, and the empty payload.
    expect(await a.transport.request(b.siloId!, '', 1000)).toBe('b:');
  });

  it('the same without batching', async () => {
    const provider = freshCluster(server.url, { batching: false });
    const a = track(await joinSilo(provider, async (p) => `a:${p}`));
    const client = track(await connectClient(provider));
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => client.transport.request(a.siloId!, String(i), 5000)));
    replies.forEach((r, i) => expect(r).toBe(`a:${i}`));
  });

  it('a handler\'s error arrives as the same typed error', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider, async () => { throw new MethodNotFoundError('no such method', { data: { m: 'x' } }); }));
    const err = await rejection(a.transport.request(a.siloId!, 'x', 1000));
    expect(err).toBeInstanceOf(MethodNotFoundError);
    expect((err as MethodNotFoundError).data).toEqual({ m: 'x' });
  });

  it('nobody on the subject → retryable SiloUnavailableError from the server\'s "no responders", not the timeout', async () => {
    const provider = freshCluster(server.url);
    const client = track(await connectClient(provider));
    const err = await rejection(client.transport.request('01NOBODYNOBODYNOBODYNOBODY', 'hi', 60_000));
    expect(err).toBeInstanceOf(SiloUnavailableError);
    // The server's answer (a 503 status), which comes in milliseconds; the 60 s timeout would be a TimeoutError.
    expect((err as SiloUnavailableError).data).toMatchObject({ retryable: true, noResponders: true });
  });

  it('a silent silo → TimeoutError after the timeout', async () => {
    const provider = freshCluster(server.url);
    const a = track(await joinSilo(provider, () => new Promise<string>(() => undefined)));
    const t = performance.now();
    const err = await rejection(a.transport.request(a.siloId!, 'hang', 300));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
  });

  it('over max_payload → InvalidArgumentError both ways, and the connection stays up', async () => {
    const provider = freshCluster(small.url);
    const a = track(await joinSilo(provider, async (p) => (p === 'big please' ? 'y'.repeat(70 * 1024) : `ok:${p.length}`)));
    const client = track(await connectClient(provider));
    const big = 'x'.repeat(64 * 1024);
    const err = await rejection(client.transport.request(a.siloId!, big, 2000));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/max_payload of 65536/);
    const back = await rejection(client.transport.request(a.siloId!, 'big please', 2000));
    expect(back).toBeInstanceOf(InvalidArgumentError);
    expect(back.message).toMatch(/reply .* exceeds the NATS max_payload/);
    // Just under the limit still travels, and many near-limit calls are split across messages.
    const fits = 'z'.repeat(64 * 1024 - 9);
    expect(await client.transport.request(a.siloId!, fits, 2000)).toBe(`ok:${fits.length}`);
    const many = await Promise.all(Array.from({ length: 10 }, () => client.transport.request(a.siloId!, 'w'.repeat(30_000), 2000)));
    expect(many).toEqual(Array(10).fill('ok:30000'));
  });

  it('calls in flight to a silo fail (not retryable) as soon as membership declares it dead', async () => {
    // Heartbeats go stale only after 10 minutes: whatever declares the silo dead here is not staleness.
    const provider = freshCluster(server.url, { heartbeatIntervalMs: 1000, staleAfterMs: 600_000, probeAfterMs: 600_000 });
    const received = signal();
    const victim = await joinSilo(provider, () => { received.fire(); return new Promise<string>(() => undefined); });
    const client = track(await connectClient(provider));
    const inflight = rejection(client.transport.request(victim.siloId!, 'stuck', 600_000));
    await received.fired;
    await victim.close(); // crash
    // The next caller finds nobody there (once the server has seen the socket close)...
    let probe: Error | undefined;
    for (let i = 0; i < 100 && (probe as SiloUnavailableError | undefined)?.data === undefined; i++) {
      probe = await rejection(client.transport.request(victim.siloId!, 'probe', 200));
    }
    expect((probe as SiloUnavailableError).data, String(probe)).toMatchObject({ retryable: true });
    // ...and reports it; membership checks and declares it dead (the slow-call probe is off, and
    // staleness 10 minutes away: only this suspicion can end the call before the test's own timeout).
    client.membership.suspect(victim.siloId!);
    const err = await inflight;
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as SiloUnavailableError).data).toBeUndefined();
    expect(err.message).toMatch(/declared dead/);
  });

  it('a crashed silo\'s in-flight calls fail through the slow-call probe even when nobody else calls it', async () => {
    // Heartbeats go stale only after 10 minutes, and the calls time out after 10 minutes: only
    // the slow-call probe can end them before the test's own timeout.
    const provider = freshCluster(server.url, { heartbeatIntervalMs: 1000, staleAfterMs: 600_000 });
    let received = 0;
    const all = signal();
    const victim = await joinSilo(provider, () => { if (++received === 5) all.fire(); return new Promise<string>(() => undefined); });
    const client = track(await connectClient(provider));
    const inflight = Array.from({ length: 5 }, () => client.transport.request(victim.siloId!, 'stuck', 600_000));
    await all.fired;
    await victim.close(); // crash; every caller is already waiting on it
    const errors = await Promise.all(inflight.map(rejection));
    for (const err of errors) expect(err.message).toMatch(/declared dead \(no responders\)/);
    // It leaves the live set once its entry's delete is through (membership.ts, declareDead).
    await until(() => !client.membership.isLive(victim.siloId!), 5_000, 'the dead silo leaves the live set');
  });

  it('a slow but live silo is not declared dead by the slow-call probe', async () => {
    const provider = freshCluster(server.url);
    const slow = track(await joinSilo(provider, async (p) => { await sleep(1200); return p; }));
    const client = track(await connectClient(provider));
    expect(await client.transport.request(slow.siloId!, 'patience', 5000)).toBe('patience');
    expect(client.membership.isLive(slow.siloId!)).toBe(true);
  });

  it('leave() answers what it received, then others get "no responders"', async () => {
    const provider = freshCluster(server.url);
    let received = 0;
    const all = signal();
    const a = await joinSilo(provider, async (p) => { if (++received === 20) all.fire(); await sleep(200); return `done:${p}`; });
    const client = track(await connectClient(provider));
    await until(() => client.membership.isLive(a.siloId!), 20_000, 'client sees a');
    const inflight = Array.from({ length: 20 }, (_, i) => client.transport.request(a.siloId!, String(i), 60_000));
    await all.fired;
    const leaving = a.leave();
    // A request that still reaches a before it unsubscribes is answered; after that, "no responders".
    let late: Error | undefined;
    for (let i = 0; i < 1000 && late === undefined; i++) {
      late = await client.transport.request(a.siloId!, 'late', 60_000).then((r) => { expect(r).toBe('done:late'); return undefined; }, (err: Error) => err);
    }
    expect((late as SiloUnavailableError).data).toMatchObject({ retryable: true, noResponders: true });
    expect(await Promise.all(inflight)).toEqual(Array.from({ length: 20 }, (_, i) => `done:${i}`));
    await leaving;
    await until(() => !client.membership.isLive(a.siloId!), 20_000, 'a is gone from membership');
  });
});
