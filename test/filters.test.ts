/**
 * Grain call filters (API.md "Call filters") on the in-memory TestCluster, on silos joined
 * through a real nats-server, and through GrainClient.connect; the behaviour suite
 * (test/workers/behaviour-suite.ts) runs the same probe over HTTP on a silo and on the Worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Account, Counter,
} from '../grains/index.js';
import {
  GrainClient, GrainError, RequestContext, Silo, TestCluster, TransactionAbortedError,
  type CallFilter, type CallFilters, type GrainCall,
} from 'granary';
import { FilterProbe, probeFilters } from './fixtures/filters.js';
import { freshCluster } from './nats/helpers.js';
import { NatsServer } from './support/nats-server.js';

/** The probe's behaviour, through any client of a cluster whose silos run `probeFilters`. */
function probeChecks(client: () => GrainClient): void {
  it('incoming: replace args, answer in place, refuse, wrap the result', async () => {
    const p = client().getGrain(FilterProbe, 'p');
    expect(await p.echo(4)).toBe(8);
    expect(await p.never()).toBe('answered by the filter');
    await expect(p.refused()).rejects.toMatchObject({ code: 'refused_by_filter' });
    expect(await p.plusOne(1)).toEqual({ result: 2 });
    expect(await RequestContext.run({ user: 'ann' }, () => p.contextUser())).toBe('ann');
  });

  it('outgoing: a value set by the filter travels with that call, not back', async () => {
    expect(await client().getGrain(FilterProbe, 'p').relay('q')).toEqual({ seen: 'tagged:q', after: null });
  });
}

describe('call filters on a TestCluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => { cluster = await TestCluster.start({ silos: 2, grains: [FilterProbe], filters: probeFilters }); });
  afterAll(() => cluster?.stop());
  probeChecks(() => cluster.client);
});

describe('call filters on silos joined through nats-server', () => {
  let nats: NatsServer;
  const silos: Silo[] = [];
  let client: GrainClient;
  beforeAll(async () => {
    nats = await NatsServer.start();
    const provider = freshCluster(nats.url);
    // Two silos; the probe's grains land on either, and relay crosses between them.
    for (let i = 0; i < 2; i++) silos.push(await Silo.start({ grains: [FilterProbe], cluster: provider, filters: probeFilters }));
    client = await GrainClient.connect({ cluster: provider });
  });
  afterAll(async () => {
    await client?.close();
    await Promise.all(silos.map((s) => s.stop()));
    await nats?.stop();
  });
  probeChecks(() => client);

  it('relay crosses silos: the outgoing filter runs on the caller\'s silo, the value arrives on the callee\'s', async () => {
    // Placement prefers the calling silo: activate the r's on silo 0 and the s's on silo 1 first.
    const n = 6;
    const counts = () => [silos[0]!.activationCount('FilterProbe'), silos[1]!.activationCount('FilterProbe')];
    const [before0, before1] = counts();
    for (let i = 0; i < n; i++) {
      await silos[0]!.getGrain(FilterProbe, `r${i}`).tagSeen();
      await silos[1]!.getGrain(FilterProbe, `s${i}`).tagSeen();
    }
    expect(counts()).toEqual([before0! + n, before1! + n]);
    const results = await Promise.all(Array.from({ length: n }, (_, i) => client.getGrain(FilterProbe, `r${i}`).relay(`s${i}`)));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => ({ seen: `tagged:s${i}`, after: null })));
    // No new activations: every relay went from silo 0 to silo 1.
    expect(counts()).toEqual([before0! + n, before1! + n]);
  });
});

describe('call filter semantics', () => {
  it('incoming filters run on the hosting silo for every call, from a client and from a grain', async () => {
    const seen: string[] = [];
    const record: CallFilter = async (call, next) => { seen.push(`${call.grain.type}.${call.method}`); return next(); };
    const cluster = await TestCluster.start({ silos: 2, grains: [FilterProbe], filters: { incoming: [record] } });
    try {
      await cluster.client.getGrain(FilterProbe, 'a').relay('b');
      expect(seen).toEqual(['FilterProbe.relay', 'FilterProbe.tagSeen']);
    } finally {
      await cluster.stop();
    }
  });

  it('filters run in order, outermost first, and each sees what the inner ones returned', async () => {
    const order: string[] = [];
    const mk = (name: string): CallFilter => async (call, next) => {
      order.push(`>${name}`);
      const r = await next();
      order.push(`<${name}`);
      return call.method === 'get' ? `${name}(${String(r)})` : r;
    };
    const cluster = await TestCluster.start({ silos: 1, grains: [Counter], filters: { incoming: [mk('a'), mk('b')] } });
    try {
      expect(await cluster.client.getGrain(Counter, 'x').get()).toBe('a(b(0))');
      expect(order).toEqual(['>a', '>b', '<b', '<a']);
    } finally {
      await cluster.stop();
    }
  });

  it('a filter that calls next() twice gets an error; the grain method ran once', async () => {
    const twice: CallFilter = async (call, next) => {
      if (call.method !== 'add') return next();
      await next();
      return next();
    };
    const cluster = await TestCluster.start({ silos: 1, grains: [Counter], filters: { incoming: [twice] } });
    try {
      const err = await cluster.client.getGrain(Counter, 'x').add(1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrainError);
      expect((err as Error).message).toMatch(/next\(\) more than once/);
      // The first next() ran the method; the state shows exactly one add.
      expect(await cluster.client.getGrain(Counter, 'x').get()).toBe(1);
    } finally {
      await cluster.stop();
    }
  });

  it('a filter that throws a plain Error: the caller gets grain_error, the grain stays usable', async () => {
    const fail: CallFilter = async (call, next) => {
      if (call.args[0] === 13) throw new TypeError('thirteen is refused');
      return next();
    };
    const cluster = await TestCluster.start({ silos: 1, grains: [Counter], filters: { incoming: [fail] } });
    try {
      const c = cluster.client.getGrain(Counter, 'x');
      await expect(c.add(13)).rejects.toMatchObject({ code: 'grain_error', name: 'TypeError', message: 'thirteen is refused' });
      expect(await c.add(2)).toBe(2);
    } finally {
      await cluster.stop();
    }
  });

  it('GrainClient.connect runs its outgoing filters around every call it makes, in the caller\'s context', async () => {
    const seen: GrainCall[] = [];
    const clientFilters: CallFilters = {
      outgoing: [async (call, next) => {
        seen.push({ ...call, args: [...call.args], context: { ...call.context } });
        RequestContext.set('user', 'set-by-client-filter');
        if (call.method === 'add') call.args = [(call.args[0] as number) * 10];
        return next();
      }],
    };
    const cluster = await TestCluster.start({ silos: 1, grains: [Counter] });
    const client = await GrainClient.connect({ cluster: cluster.provider, clock: cluster.clock, filters: clientFilters });
    try {
      const c = client.getGrain(Counter, 'x');
      expect(await RequestContext.run({ user: 'ann' }, () => c.add(2))).toBe(20);
      expect(await RequestContext.run({ user: 'ann' }, async () => {
        const who = await c.whoAsked();
        return [who, RequestContext.get('user')];
      })).toEqual(['set-by-client-filter', 'ann']);
      expect(seen.map((s) => [s.grain.type, s.grain.key, s.method, s.args, s.context.user])).toEqual([
        ['Counter', 'x', 'add', [2], 'ann'],
        ['Counter', 'x', 'whoAsked', [], 'ann'],
      ]);
    } finally {
      await client.close();
      await cluster.stop();
    }
  });

  it('transactions still commit atomically, with user filters around the calls (filters never see protocol messages)', async () => {
    const methods: string[] = [];
    const filters: CallFilters = {
      incoming: [async (call, next) => { methods.push(call.method); return next(); }],
      outgoing: [async (call, next) => { methods.push(`out:${call.method}`); return next(); }],
    };
    const cluster = await TestCluster.start({ silos: 2, grains: [Account], filters });
    try {
      const a = cluster.client.getGrain(Account, 'a');
      const b = cluster.client.getGrain(Account, 'b');
      await cluster.client.transaction(async () => { await a.deposit(50); await b.deposit(50); });
      await cluster.client.transaction(async () => { await a.withdraw(20); await b.deposit(20); });
      await expect(cluster.client.transaction(async () => { await a.withdraw(1_000); await b.deposit(1_000); }))
        .rejects.toBeInstanceOf(TransactionAbortedError);
      expect([await a.balance(), await b.balance()]).toEqual([30, 70]);
      expect(methods.some((m) => m.startsWith('$') || m.startsWith('out:$'))).toBe(false);
      expect(methods.filter((m) => m === 'deposit')).toHaveLength(3);
    } finally {
      await cluster.stop();
    }
  });
});
