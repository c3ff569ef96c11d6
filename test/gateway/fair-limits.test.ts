/**
 * Fair limits at the gateway, over real HTTP against a real silo: the rate limit keys on who
 * is calling (the `authorize` hook's subject, else the client's address; `x-forwarded-for`
 * only from a trusted proxy), never on a header a client can vary; one `authorization` header
 * per request; a request must arrive within its time (408, connection closed), and the
 * connection cap holds. Clients come from distinct loopback addresses (127.0.0.x, Linux).
 *
 * Budgets refill at one request per 1000 s, so a burst of two is spent for the whole test:
 * the third request of a client is refused however slow the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Grain, Silo } from 'granary';
import { Counter } from '../../grains/index.js';
import { addressBucket } from '../../silo/gateway/client-key.js';
import { createGatewayApp, listenNode, nodeClientAddress, siloBackend, type NodeGateway, type NodeServerOptions } from '../../silo/gateway/index.js';
import type { GatewayAppOptions } from '../../silo/gateway/app.js';
import { raw } from './helpers.js';
import { RawConnection, holdRequest, jsonPost, requestHead } from './raw-connection.js';

const TOKEN = 'shared-token-0f1e';
const SPENT_FOR_THE_TEST = { requestsPerSecond: 0.001, burst: 2 };

let entered: () => void = () => undefined;
let release: () => void = () => undefined;

/** `wait()` answers only when the test releases it, and says when it started. */
class Gate extends Grain {
  static grainType = 'Gate';
  async wait(): Promise<string> {
    const released = new Promise<void>((r) => { release = r; });
    entered();
    await released;
    return 'released';
  }
}

let silo: Silo;
const gateways: NodeGateway[] = [];

beforeAll(async () => {
  silo = await Silo.start({
    grains: [Counter, Gate],
    gateway: { port: 0, host: '127.0.0.1', token: TOKEN, rateLimit: SPENT_FOR_THE_TEST, trustedProxies: ['127.0.0.2'] },
  });
});
afterAll(async () => {
  for (const g of gateways) await g.close(0);
  await silo?.stop();
});

/** Another gateway over the same silo, with its own options. */
async function gateway(options: GatewayAppOptions & NodeServerOptions): Promise<number> {
  const app = createGatewayApp(siloBackend(silo), { clientAddress: nodeClientAddress(), ...options });
  const g = await listenNode(app, { port: 0, host: '127.0.0.1', ...options });
  gateways.push(g);
  return g.port;
}

/** Status of one `Counter.get` call from `from`, with `headers`. */
async function get(port: number, from: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await raw(port, 'POST', '/grains/Counter/fair/get', { headers: { 'content-type': 'application/json', ...headers }, body: '{}', localAddress: from });
  return r.status;
}

const bearer = { authorization: `Bearer ${TOKEN}` };

describe('rate-limit key', () => {
  it('made-up authorization values do not get fresh buckets', async () => {
    const port = await gateway({ rateLimit: SPENT_FOR_THE_TEST });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push(await get(port, '127.0.0.4', { authorization: `Bearer invented-${i}` }));
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('one shared token from two addresses: two buckets', async () => {
    const port = silo.gateway!.port;
    const first: number[] = [];
    for (let i = 0; i < 3; i++) first.push(await get(port, '127.0.0.6', bearer));
    expect(first).toEqual([200, 200, 429]);
    expect(await get(port, '127.0.0.7', bearer)).toBe(200);
  });

  it('x-forwarded-for is believed from a trusted proxy only, and only the hop it appended', async () => {
    const port = silo.gateway!.port;
    const viaProxy = (client: string) => get(port, '127.0.0.2', { ...bearer, 'x-forwarded-for': client });
    expect([await viaProxy('198.51.100.1'), await viaProxy('198.51.100.1'), await viaProxy('198.51.100.1')]).toEqual([200, 200, 429]);
    // Another client behind the same proxy has its own budget…
    expect(await viaProxy('198.51.100.2')).toBe(200);
    // …and what a client writes before the proxy's hop changes nothing.
    expect(await viaProxy('203.0.113.9, 198.51.100.1')).toBe(429);

    // From an untrusted peer the header is ignored: varying it buys nothing.
    const direct: number[] = [];
    for (let i = 0; i < 3; i++) direct.push(await get(port, '127.0.0.8', { ...bearer, 'x-forwarded-for': `203.0.113.${i}` }));
    expect(direct).toEqual([200, 200, 429]);
  });

  it('the authorize hook may name the subject; true keys on the address; false and "" refuse', async () => {
    const port = await gateway({
      rateLimit: SPENT_FOR_THE_TEST,
      authorize: (req) => {
        const user = req.headers.get('x-user');
        if (user === 'mallory') return false;
        if (user === 'nobody') return '';
        return user ?? true;
      },
    });
    const as = (user?: string) => get(port, '127.0.0.9', user === undefined ? {} : { 'x-user': user });
    expect([await as('alice'), await as('alice'), await as('alice')]).toEqual([200, 200, 429]);
    expect(await as('bob')).toBe(200);
    expect([await as(), await as(), await as()]).toEqual([200, 200, 429]);
    expect(await as('mallory')).toBe(403);
    expect(await as('nobody')).toBe(403);
  });

  it('IPv6 clients count per /64; IPv4-mapped addresses as their IPv4 address', () => {
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe(addressBucket('2001:db8:1:2:ffff::1'));
    expect(addressBucket('2001:db8:1:3::1')).not.toBe(addressBucket('2001:db8:1:2::1'));
    expect(addressBucket('::ffff:127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('authorization header', () => {
  it('two authorization headers → 400, whether sent apart or joined; padding around one is fine', async () => {
    const port = silo.gateway!.port;
    const send = async (headers: [string, string][]) => {
      const c = await RawConnection.open(port, '127.0.0.10');
      c.write(jsonPost('/grains/Counter/fair/get', '{}', [...headers, ['connection', 'close']]));
      const r = await c.response();
      c.close();
      return r;
    };
    const twice = await send([['authorization', `Bearer ${TOKEN}`], ['authorization', `Bearer ${TOKEN}`]]);
    expect(twice.status).toBe(400);
    expect(twice.json.error.code).toBe('invalid_request');
    expect(twice.json.error.message).toMatch(/more than one authorization header/);
    expect((await send([['authorization', 'Bearer someone-else'], ['authorization', `Bearer ${TOKEN}`]])).status).toBe(400);
    expect((await send([['authorization', `Bearer ${TOKEN}, Bearer other`]])).status).toBe(400);
    expect((await send([['authorization', `   Bearer ${TOKEN}   `]])).status).toBe(200);
  });
});

describe('request deadline', () => {
  const head = (length: number) => requestHead('POST', '/grains/Counter/slow/add', [['content-type', 'application/json'], ['content-length', length]]);

  it('a body that trickles gets 408 request_timeout (JSON) and the connection is closed', async () => {
    const port = await gateway({ requestTimeoutMs: 300, headersTimeoutMs: 200 });
    const c = await RawConnection.open(port);
    c.write(head(100) + '{"args":');
    // One byte at a time for as long as the gateway listens: it must stop listening.
    const trickle = setInterval(() => c.write(' '), 50);
    try {
      const r = await c.response();
      expect(r.status).toBe(408);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers.connection).toBe('close');
      expect(r.json.error).toMatchObject({ code: 'request_timeout' });
      expect(r.json.error.message).toMatch(/within 300 ms/);
    } finally {
      // The gateway closes the connection: this resolves on its own.
      await c.closed;
      clearInterval(trickle);
    }
    expect(await silo.getGrain(Counter, 'slow').get()).toBe(0);
  });

  it('headers that trickle get 408 too', async () => {
    const port = await gateway({ requestTimeoutMs: 300, headersTimeoutMs: 200 });
    const c = await RawConnection.open(port);
    c.write('POST /grains/Counter/slow/add HTTP/1.1\r\nhost: x\r\n');
    const trickle = setInterval(() => c.write('x-pad: 1\r\n'), 50);
    try {
      const r = await c.response();
      expect(r.status).toBe(408);
      expect(r.json.error.code).toBe('request_timeout');
    } finally {
      await c.closed;
      clearInterval(trickle);
    }
  });

  it('the deadline is for receiving the request: a grain that answers later is not cut', async () => {
    const port = await gateway({ requestTimeoutMs: 300, headersTimeoutMs: 200 });
    const running = new Promise<void>((r) => { entered = r; });
    const call = raw(port, 'POST', '/grains/Gate/a/wait', { headers: { 'content-type': 'application/json' }, body: '{}' });
    await running;
    // A request begun after the call was received runs out of time first: had the deadline
    // covered the call's answer, the call would have been cut before this 408.
    const late = await RawConnection.open(port);
    late.write(head(10) + '{');
    expect((await late.response()).status).toBe(408);
    release();
    const r = await call;
    expect({ status: r.status, body: r.json }).toEqual({ status: 200, body: { result: 'released' } });
  });
});

describe('connection cap', () => {
  it('connections past the cap are closed at once (and logged); when one ends, a new one is taken', async () => {
    const warnings: string[] = [];
    const port = await gateway({ maxConnections: 2, logger: { warn: (msg) => warnings.push(msg) } });
    const body = '{"args":[1]}';
    const held: RawConnection[] = [];
    for (let i = 0; i < 2; i++) {
      // A whole head and no body yet: the server has taken the request once it says 100 Continue.
      held.push(await holdRequest(port, requestHead('POST', '/grains/Counter/cap/add', [
        ['content-type', 'application/json'], ['content-length', body.length], ['expect', '100-continue'], ['connection', 'close'],
      ])));
    }

    const third = await RawConnection.open(port);
    third.write(requestHead('GET', '/healthz', [['connection', 'close']]));
    await third.closed;
    expect(third.received).toBe('');
    expect(warnings.some((w) => /connection cap/.test(w))).toBe(true);

    for (const c of held) {
      c.write(body);
      expect((await c.response()).status).toBe(200);
      await c.closed;
    }
    expect(await silo.getGrain(Counter, 'cap').get()).toBe(2);

    // The server counts a connection out when it sees it closed, a moment after the client
    // does: try until one is taken (each try waits for its answer or its closing).
    let answered: number | undefined;
    for (let attempt = 0; attempt < 50 && answered === undefined; attempt++) {
      const c = await RawConnection.open(port);
      c.write(requestHead('GET', '/healthz', [['connection', 'close']]));
      answered = await c.response().then((r) => r.status, () => undefined);
      c.close();
    }
    expect(answered).toBe(200);
  });
});
