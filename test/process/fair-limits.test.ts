/**
 * The gateway's fair limits as the container entry sets them, each through a real silo
 * process configured by environment only: the rate limit keys on the client's address
 * (`x-forwarded-for` only from GRANARY_TRUSTED_PROXIES), never on the authorization header;
 * GRANARY_REQUEST_TIMEOUT_MS / GRANARY_HEADERS_TIMEOUT_MS (408, connection closed);
 * GRANARY_MAX_CONNECTIONS; and bad values exit 2 naming the variable.
 *
 * GRANARY_RATE_LIMIT_RPS=1 with bursts of two: a client's third request in a row is refused
 * unless a whole second passed, so each client sends until it is refused (bounded); a slow
 * machine makes that loop longer, never the test wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw } from '../gateway/helpers.js';
import { RawConnection, holdRequest, requestHead } from '../gateway/raw-connection.js';
import { spawnSilo, type SiloProcess } from './silo-process.js';

const TOKEN = 'process-shared-token-77';
const LIMITED = { GRANARY_STORAGE: 'memory', GRANARY_RATE_LIMIT_RPS: '1', GRANARY_RATE_LIMIT_BURST: '2' };
const started: SiloProcess[] = [];

async function silo(env: Record<string, string>, options: { waitReady?: boolean } = {}): Promise<SiloProcess> {
  const p = await spawnSilo(env, options);
  started.push(p);
  return p;
}

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
});

/** Sends `Counter.get` from `from` with `headers(i)` until refused; the statuses. */
async function untilRefused(p: SiloProcess, from: string, headers: (i: number) => Record<string, string>): Promise<number[]> {
  const statuses: number[] = [];
  while (statuses.length < 50 && !statuses.includes(429)) {
    const r = await raw(p.port, 'POST', '/grains/Counter/limited/get', { headers: { 'content-type': 'application/json', ...headers(statuses.length) }, body: '{}', localAddress: from });
    statuses.push(r.status);
  }
  return statuses;
}

const once = (p: SiloProcess, from: string, headers: Record<string, string>) =>
  raw(p.port, 'POST', '/grains/Counter/limited/get', { headers: { 'content-type': 'application/json', ...headers }, body: '{}', localAddress: from }).then((r) => r.status);

describe('without a token: GRANARY_TRUSTED_PROXIES, GRANARY_REQUEST_TIMEOUT_MS', () => {
  let p: SiloProcess;
  beforeAll(async () => {
    p = await silo({ ...LIMITED, GRANARY_TRUSTED_PROXIES: '127.0.0.2', GRANARY_REQUEST_TIMEOUT_MS: '300', GRANARY_HEADERS_TIMEOUT_MS: '200' });
  });

  it('made-up authorization values share their address\'s bucket', async () => {
    const statuses = await untilRefused(p, '127.0.0.3', (i) => ({ authorization: `Bearer invented-${i}` }));
    expect(statuses.at(-1), statuses.join(',')).toBe(429);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
  });

  it('x-forwarded-for counts from the trusted proxy only', async () => {
    const proxied = await untilRefused(p, '127.0.0.2', () => ({ 'x-forwarded-for': '198.51.100.1' }));
    expect(proxied.at(-1)).toBe(429);
    expect(await once(p, '127.0.0.2', { 'x-forwarded-for': '198.51.100.2' })).toBe(200);

    const direct = await untilRefused(p, '127.0.0.4', (i) => ({ 'x-forwarded-for': `203.0.113.${i}` }));
    expect(direct.at(-1), direct.join(',')).toBe(429);
  });

  it('a trickling body gets 408 request_timeout and the connection is closed', async () => {
    const c = await RawConnection.open(p.port);
    c.write(requestHead('POST', '/grains/Counter/slow/add', [['content-type', 'application/json'], ['content-length', 100]]) + '{"args":');
    const trickle = setInterval(() => c.write(' '), 50);
    try {
      const r = await c.response();
      expect(r.status).toBe(408);
      expect(r.json.error.code).toBe('request_timeout');
      expect(r.json.error.message).toMatch(/within 300 ms/);
    } finally {
      await c.closed;
      clearInterval(trickle);
    }
  });
});

describe('with a shared token: GRANARY_MAX_CONNECTIONS', () => {
  let p: SiloProcess;
  beforeAll(async () => {
    p = await silo({ ...LIMITED, GRANARY_AUTH_TOKEN: TOKEN, GRANARY_MAX_CONNECTIONS: '2' });
  });

  it('two clients with the same token from different addresses have separate buckets', async () => {
    const first = await untilRefused(p, '127.0.0.5', () => ({ authorization: `Bearer ${TOKEN}` }));
    expect(first.at(-1), first.join(',')).toBe(429);
    expect(await once(p, '127.0.0.6', { authorization: `Bearer ${TOKEN}` })).toBe(200);
  });

  it('a third connection is closed at once and logged; the cap frees when one ends', async () => {
    const body = '{}';
    const held: RawConnection[] = [];
    // Connections of the test before may still be counted a moment after they closed:
    // holdRequest tries again when the cap turns one away.
    for (let i = 0; i < 2; i++) {
      held.push(await holdRequest(p.port, requestHead('POST', '/grains/Counter/cap/get', [
        ['content-type', 'application/json'], ['content-length', body.length], ['authorization', `Bearer ${TOKEN}`],
        ['expect', '100-continue'], ['connection', 'close'],
      ])));
    }
    const third = await RawConnection.open(p.port);
    third.write(requestHead('GET', '/healthz', [['connection', 'close']]));
    await third.closed;
    expect(third.received).toBe('');
    await p.waitForLog((l) => l.level === 'warn' && /connection cap/.test(l.msg) && l.maxConnections === 2);

    for (const c of held) {
      c.write(body);
      expect((await c.response()).status).toBe(200);
      await c.closed;
    }
    let answered: number | undefined;
    for (let attempt = 0; attempt < 50 && answered === undefined; attempt++) {
      const c = await RawConnection.open(p.port);
      c.write(requestHead('GET', '/healthz', [['connection', 'close']]));
      answered = await c.response().then((r) => r.status, () => undefined);
      c.close();
    }
    expect(answered).toBe(200);
  });
});

describe('bad values → exit 2 naming the variable', () => {
  const bad: [string, Record<string, string>][] = [
    ['GRANARY_TRUSTED_PROXIES', { GRANARY_TRUSTED_PROXIES: '10.0.0.0/33' }],
    ['GRANARY_TRUSTED_PROXIES', { GRANARY_TRUSTED_PROXIES: '127.0.0.1,proxy.internal' }],
    ['GRANARY_REQUEST_TIMEOUT_MS', { GRANARY_REQUEST_TIMEOUT_MS: '0' }],
    ['GRANARY_HEADERS_TIMEOUT_MS', { GRANARY_REQUEST_TIMEOUT_MS: '5000', GRANARY_HEADERS_TIMEOUT_MS: '6000' }],
    ['GRANARY_MAX_CONNECTIONS', { GRANARY_MAX_CONNECTIONS: 'many' }],
    // Printable, but not a bearer token: before, the silo took it and then failed to start (exit 1).
    ['GRANARY_AUTH_TOKEN', { GRANARY_AUTH_TOKEN: 'abc!defgh' }],
  ];

  it.each(bad)('%s %j', async (variable, env) => {
    const p = await silo({ GRANARY_STORAGE: 'memory', ...env }, { waitReady: false });
    expect((await p.exited).code).toBe(2);
    const lines = p.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { msg: string; variable: string };
    expect(line.variable).toBe(variable);
    expect(line.msg).toContain(variable);
  });
});
