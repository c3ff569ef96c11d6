/**
 * `GrainClient.http(url)` against a live gateway hosting the sample grains: the same typed
 * references, the same error classes, rich values and request context over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GrainClient, GrainError, GrainNotFoundError, InconsistentStateError, InvalidArgumentError, MethodNotFoundError,
  RequestContext, Silo, SiloUnavailableError, TimeoutError,
} from 'granary';
import { ChatRoom, Counter, sampleGrains } from '../../grains/index.js';
import { Probe } from './grains.js';
import { Held, held } from './held.js';

let silo: Silo;
let secured: Silo;
let client: GrainClient;
const TOKEN = 'test-token-0123456789';

beforeAll(async () => {
  silo = await Silo.start({ grains: [...sampleGrains, Probe, Held], gateway: { port: 0, host: '127.0.0.1' } });
  secured = await Silo.start({ grains: [Counter], gateway: { port: 0, host: '127.0.0.1', token: TOKEN } });
  client = GrainClient.http(silo.gateway!.url);
});

afterAll(async () => {
  await client?.close();
  await silo?.stop();
  await secured?.stop();
});

describe('GrainClient.http', () => {
  it('typed references by class and by type name', async () => {
    const c = client.getGrain(Counter, 'h1');
    expect(await c.add(2)).toBe(2);
    expect(await c.add(3)).toBe(5);
    const byName = client.getGrain<Counter>('Counter', 'h1');
    expect(await byName.get()).toBe(5);
    // The same grain the silo's own references reach.
    expect(await silo.getGrain(Counter, 'h1').get()).toBe(5);
  });

  it('sample chat room round trip', async () => {
    const room = client.getGrain(ChatRoom, 'lobby');
    expect(await room.join('ann')).toEqual(['ann']);
    const msg = await room.post('ann', 'hello ✓');
    expect(msg).toMatchObject({ from: 'ann', text: 'hello ✓', seq: 1 });
    expect(await room.history()).toEqual([msg]);
  });

  it('rich values round-trip (the client speaks the codec media type)', async () => {
    const p = client.getGrain(Probe, 'rich');
    const args = [new Date(7), 2n ** 80n, new Map([['k', new Set([1])]]), new Uint8Array([0, 255]), undefined, -0];
    expect(await p.echo(...args)).toEqual(args);
    const r = (await p.rich()) as Record<string, unknown>;
    expect(r.when).toBeInstanceOf(Date);
    expect(r.big).toBe(2n ** 70n);
    expect(r.inf).toBe(Infinity);
  });

  it('request context flows as one JSON header, names keep their case', async () => {
    const p = client.getGrain(Probe, 'ctx');
    const ctx = await RequestContext.run({ user: 'alice', tenantId: 't-1', 'Ünïcode name': { deep: ['ü', 1] } }, () => p.ctxAll());
    expect(ctx).toEqual({ user: 'alice', tenantId: 't-1', 'Ünïcode name': { deep: ['ü', 1] } });
    expect(await RequestContext.run({ user: 'bob' }, () => client.getGrain(Counter, 'h1').whoAsked())).toBe('bob');
    expect(await p.ctxAll()).toEqual({});
  });

  it('the same error classes as a cluster client', async () => {
    const p = client.getGrain(Probe, 'err');
    const failed = await p.fail('nope').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(GrainError);
    expect(failed).toMatchObject({ code: 'grain_error', name: 'RangeError', message: 'nope' });
    await expect(p.conflict()).rejects.toBeInstanceOf(InconsistentStateError);
    await expect(p.unavailable()).rejects.toBeInstanceOf(SiloUnavailableError);
    const invalid = await p.invalid().catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect((invalid as GrainError).code).toBe('transaction_required');
    await expect(p.add('x' as unknown as number)).rejects.toBeInstanceOf(InvalidArgumentError);
    // A client that never saw the class sends any method name; the gateway refuses unknown ones.
    const typeOnly = GrainClient.http(silo.gateway!.url);
    const untyped = typeOnly.getGrain<{ nope(): Promise<void> }>('Probe', 'err');
    const missing = await untyped.nope().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(MethodNotFoundError);
    expect((missing as Error).name).toBe('MethodNotFoundError');
    await expect(typeOnly.getGrain<{ x(): Promise<void> }>('NoSuchType', 'k').x()).rejects.toBeInstanceOf(GrainNotFoundError);
    await typeOnly.close();
  });

  it('a response timeout → TimeoutError (the gateway answers 504), without waiting for the grain', async () => {
    const quick = GrainClient.http(silo.gateway!.url, { responseTimeoutMs: 100 });
    const gate = held('client-timeout');
    // The grain returns only when released below, after the error arrived.
    const err = await quick.getGrain(Held, 'client-timeout').hold().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/within 100 ms/);
    await gate.started;
    gate.release();
    await quick.close();
  });

  it('an unreachable gateway → SiloUnavailableError naming it', async () => {
    const gone = GrainClient.http('http://127.0.0.1:9');
    const err = await gone.getGrain(Counter, 'x').get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as Error).message).toContain('http://127.0.0.1:9');
    await gone.close();
  });

  it('headers option carries the bearer token', async () => {
    const anonymous = GrainClient.http(secured.gateway!.url);
    const denied = await anonymous.getGrain(Counter, 'a').add(1).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(GrainError);
    expect((denied as GrainError).code).toBe('unauthorized');
    const authed = GrainClient.http(secured.gateway!.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await authed.getGrain(Counter, 'a').add(1)).toBe(1);
    await anonymous.close();
    await authed.close();
  });

  it('arguments that cannot travel fail before sending', async () => {
    await expect(client.getGrain(Probe, 'bad').echo(() => 1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('a request context that is not JSON data fails before sending, saying so', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const err = await RequestContext.run({ cyclic }, () => client.getGrain(Probe, 'bad').ctxAll()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/request context cannot travel over HTTP as JSON/);
  });

  it('rejects URLs that are not http(s)', () => {
    expect(() => GrainClient.http('nats://127.0.0.1:4222')).toThrow(/http/);
  });
});
