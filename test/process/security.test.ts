/**
 * The gateway's security settings of the container entry, each through a real process
 * configured by environment only (silo/config.ts → silo/main.ts → the gateway):
 * GRANARY_AUTH_TOKEN (401), GRANARY_RATE_LIMIT_RPS / _BURST under the default client key
 * (per peer address; 429), GRANARY_MAX_BODY_BYTES (413). Each test fails if main.ts stops
 * passing its setting on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { raw, type RawResponse } from '../gateway/helpers.js';
import { spawnSilo, type SiloProcess } from './silo-process.js';

const started: SiloProcess[] = [];

async function silo(env: Record<string, string>): Promise<SiloProcess> {
  const p = await spawnSilo({ GRANARY_STORAGE: 'memory', ...env });
  started.push(p);
  return p;
}

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
});

function callGrain(p: SiloProcess, path: string, body: string, options: { headers?: Record<string, string>; localAddress?: string } = {}): Promise<RawResponse> {
  return raw(p.port, 'POST', path, { headers: { 'content-type': 'application/json', ...options.headers }, body, localAddress: options.localAddress });
}

describe('GRANARY_AUTH_TOKEN', () => {
  const TOKEN = 'process-token-5c1e';

  it('no token or a wrong one → 401 and nothing runs; the right one passes; probes stay open, /metrics does not', async () => {
    const p = await silo({ GRANARY_AUTH_TOKEN: TOKEN });
    const add = JSON.stringify({ args: [1] });

    const none = await callGrain(p, '/grains/Counter/guarded/add', add);
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await callGrain(p, '/grains/Counter/guarded/add', add, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('unauthorized');

    // The refused calls did not run: the first accepted add returns 1.
    const ok = await callGrain(p, '/grains/Counter/guarded/add', add, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect({ status: ok.status, body: ok.json }).toEqual({ status: 200, body: { result: 1 } });

    expect((await raw(p.port, 'GET', '/healthz')).status).toBe(200);
    expect((await raw(p.port, 'GET', '/readyz')).status).toBe(200);
    expect((await raw(p.port, 'GET', '/metrics')).status).toBe(401);
    expect((await raw(p.port, 'GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });
});

describe('GRANARY_RATE_LIMIT_RPS / GRANARY_RATE_LIMIT_BURST', () => {
  it('a client over its burst gets 429 with retry-after; the default key is the peer address, so another address is not limited', async () => {
    // One request per second, bursts of two: the third request in a row from one address
    // is refused unless a whole second passed. Requests go out until one is refused, so a
    // slow machine makes the loop longer, never the test wrong.
    const p = await silo({ GRANARY_RATE_LIMIT_RPS: '1', GRANARY_RATE_LIMIT_BURST: '2' });
    const body = JSON.stringify({ args: [] });
    const statuses: number[] = [];
    let limited: RawResponse | undefined;
    while (limited === undefined && statuses.length < 50) {
      const r = await callGrain(p, '/grains/Counter/limited/get', body, { localAddress: '127.0.0.1' });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
      else expect(r.status).toBe(200);
    }
    expect(limited, `no 429 in ${statuses.length} requests: ${statuses.join(',')}`).toBeDefined();
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(limited!.json.error.code).toBe('rate_limited');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Another peer address has its own full bucket.
    const other = await callGrain(p, '/grains/Counter/limited/get', body, { localAddress: '127.0.0.2' });
    expect(other.status).toBe(200);
    // Probes are never limited.
    expect((await raw(p.port, 'GET', '/healthz', { localAddress: '127.0.0.1' })).status).toBe(200);
  });
});

describe('GRANARY_MAX_BODY_BYTES', () => {
  const LIMIT = 1024;
  /** A ChatRoom.join(user) body padded with JSON whitespace to exactly `bytes` bytes. */
  const joinBody = (user: string, bytes: number) => {
    const body = JSON.stringify({ args: [user] });
    return body.slice(0, -1) + ' '.repeat(bytes - body.length) + '}';
  };

  it('a body of exactly the limit is taken; one byte more → 413, whether its length is declared or it is chunked', async () => {
    const p = await silo({ GRANARY_MAX_BODY_BYTES: String(LIMIT) });
    const atLimit = joinBody('ann', LIMIT);
    expect(Buffer.byteLength(atLimit)).toBe(LIMIT);
    const ok = await callGrain(p, '/grains/ChatRoom/big/join', atLimit);
    expect(ok.status).toBe(200);
    expect(ok.json.result).toEqual(['ann']);

    const over = joinBody('bob', LIMIT + 1);
    const declared = await callGrain(p, '/grains/ChatRoom/big/join', over);
    expect(declared.status).toBe(413);
    expect(declared.json.error.code).toBe('payload_too_large');
    const half = Math.floor(over.length / 2);
    const chunked = await raw(p.port, 'POST', '/grains/ChatRoom/big/join', {
      headers: { 'content-type': 'application/json' },
      chunks: [over.slice(0, half), over.slice(half)],
    });
    expect(chunked.status).toBe(413);
    expect(chunked.json.error.code).toBe('payload_too_large');

    // Neither refused body joined anyone.
    const members = await callGrain(p, '/grains/ChatRoom/big/members', '{}');
    expect(members.json.result).toEqual(['ann']);
  });
});
