/**
 * The Worker's configuration through vars (wrangler.toml [vars], secrets): the gateway's
 * token and the response timeout take effect; a configuration the Worker cannot run with is
 * answered on every request with a 500 that names the variable and what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, TimeoutError } from 'granary';
import { Counter } from '../../grains/index.js';
import { Gate } from '../fixtures/grains.js';
import { WorkerConfigError, readWorkersConfig } from '../../silo/workers/config.js';
import { buildWorker, startWorker, tempDir, type RunningWorker, type StartOptions } from './worker-host.js';

const build = tempDir('granary-worker-config-');
const script = `${build.dir}/worker.js`;

beforeAll(async () => {
  await buildWorker('test/workers/worker-entry.ts', script);
});

afterAll(() => {
  build.remove();
});

async function withWorker(options: Omit<StartOptions, 'scriptPath'>, fn: (w: RunningWorker) => Promise<void>): Promise<void> {
  const w = await startWorker({ scriptPath: script, ...options });
  try {
    await fn(w);
  } finally {
    await w.dispose();
  }
}

const call = (w: RunningWorker, path: string, headers: Record<string, string> = {}) =>
  fetch(`${w.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"args":[1]}' });

describe('Worker vars', () => {
  it('GRANARY_AUTH_TOKEN guards /grains; the probes stay open', async () => {
    const token = 'worker-secret-0123456789';
    await withWorker({ vars: { GRANARY_AUTH_TOKEN: token } }, async (w) => {
      const refused = await call(w, '/grains/Counter/a/add');
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      expect((await fetch(`${w.url}/healthz`)).status).toBe(200);
      const client = GrainClient.http(w.url, { headers: { authorization: `Bearer ${token}` } });
      try {
        expect(await client.getGrain(Counter, 'a').add(3)).toBe(3);
      } finally {
        await client.close();
      }
    });
  });

  it('GRANARY_RESPONSE_TIMEOUT_MS bounds calls between objects: a call that never answers is a 504', async () => {
    await withWorker({ vars: { GRANARY_RESPONSE_TIMEOUT_MS: '400' } }, async (w) => {
      const client = GrainClient.http(w.url);
      try {
        // Without the variable the bound would be the default 30 s: "never", for this test.
        let cap: NodeJS.Timeout | undefined;
        const never = new Promise<never>((_, reject) => { cap = setTimeout(() => reject(new Error('no answer within 15 s')), 15_000); });
        const err = await Promise.race([client.getGrain(Gate, 'stuck').never(), never]).catch((e: unknown) => e).finally(() => clearTimeout(cap));
        expect(err).toBeInstanceOf(TimeoutError);
        // The object is still usable: an interleaved call goes through beside the stuck turn.
        expect(await client.getGrain(Gate, 'stuck').peek()).toBe(false);
      } finally {
        await client.close();
      }
    });
  });

  it('a configuration the Worker cannot run with: every request answers 500 configuration_error naming the variable', async () => {
    await withWorker({ vars: { GRANARY_STORAGE: 'memory' } }, async (w) => {
      for (const res of [await call(w, '/grains/Counter/a/add'), await fetch(`${w.url}/readyz`)]) {
        expect(res.status).toBe(500);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('configuration_error');
        expect(body.error.message).toMatch(/GRANARY_STORAGE: expected durable-object or dynamodb/);
      }
    });
  });

  it('an object that is not SQLite-backed says how to declare it', async () => {
    await withWorker({ legacyStorage: true }, async (w) => {
      const res = await call(w, '/grains/Counter/a/add');
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('configuration_error');
      expect(body.error.message).toMatch(/new_sqlite_classes/);
    });
  });
});

describe('readWorkersConfig', () => {
  const env = (vars: Record<string, unknown>) => ({ GRAINS: {}, ...vars });

  it('defaults: Durable Object storage, 30 s response timeout, 1 MiB bodies, no token', () => {
    const c = readWorkersConfig(env({}));
    expect(c.storage).toBe('durable-object');
    expect(c.responseTimeoutMs).toBe(30_000);
    expect(c.gateway).toEqual({ maxBodyBytes: 1 << 20 });
  });

  it('a table means DynamoDB, as for the container; credentials come from the AWS_* secrets', () => {
    const c = readWorkersConfig(env({ GRANARY_DYNAMODB_TABLE: 'grains', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's3cr3t' }));
    expect(c.storage).toBe('dynamodb');
    expect(c.dynamo).toEqual({ table: 'grains', endpoint: undefined, region: 'eu-west-1', credentials: { accessKeyId: 'AKIA1', secretAccessKey: 's3cr3t' } });
    expect(readWorkersConfig(env({ GRANARY_DYNAMODB_TABLE: 'grains', GRANARY_STORAGE: 'durable-object' })).storage).toBe('durable-object');
  });

  it('gateway vars: token, body limit, rate limit; unknown GRANARY_* vars are reported', () => {
    const c = readWorkersConfig(env({ GRANARY_AUTH_TOKEN: 'token-123456', GRANARY_MAX_BODY_BYTES: '2048', GRANARY_RATE_LIMIT_RPS: '5', GRANARY_RESPONSE_TIMEOUT_MS: '1500', GRANARY_TYPO: 'x' }));
    expect(c.gateway).toEqual({ maxBodyBytes: 2048, token: 'token-123456', rateLimit: { requestsPerSecond: 5, burst: 10 } });
    expect(c.responseTimeoutMs).toBe(1500);
    expect(c.unknownVars).toEqual(['GRANARY_TYPO']);
  });

  const broken: [string, Record<string, string>, RegExp][] = [
    ['an unknown storage', { GRANARY_STORAGE: 'memory' }, /GRANARY_STORAGE: expected durable-object or dynamodb/],
    ['dynamodb without a table', { GRANARY_STORAGE: 'dynamodb' }, /GRANARY_DYNAMODB_TABLE: must be set/],
    ['a container-only variable', { GRANARY_IDLE_TIMEOUT_MS: '1000' }, /GRANARY_IDLE_TIMEOUT_MS has no meaning on Workers/],
    ['a bad number', { GRANARY_MAX_BODY_BYTES: 'lots' }, /GRANARY_MAX_BODY_BYTES: expected a whole number/],
    ['a bad endpoint', { GRANARY_DYNAMODB_TABLE: 'grains', GRANARY_DYNAMODB_ENDPOINT: 'localhost:8000' }, /GRANARY_DYNAMODB_ENDPOINT: expected an http/],
    ['half the AWS credentials', { AWS_ACCESS_KEY_ID: 'AKIA1' }, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together/],
  ];
  it.each(broken)('%s is refused with WorkerConfigError (code configuration_error)', (_name, vars, message) => {
    let err: unknown;
    try {
      readWorkersConfig(env(vars));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WorkerConfigError);
    expect((err as WorkerConfigError).code).toBe('configuration_error');
    expect((err as Error).message).toMatch(message);
  });
});
