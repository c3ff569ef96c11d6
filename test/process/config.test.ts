/** The entry point's environment parsing, without a process: defaults and derived settings. */
import { describe, expect, it } from 'vitest';
import { ConfigError, KNOWN_ENV_VAR_NAMES, readConfig } from '../../silo/config.js';

describe('readConfig', () => {
  it('defaults: in-process cluster, embedded dynalite, gateway on 0.0.0.0:8080', () => {
    const c = readConfig({});
    expect(c).toMatchObject({
      nats: undefined, cluster: 'granary', storage: 'dynalite', dataDir: './.granary', port: 8080, host: '0.0.0.0',
      grainsModule: undefined, drainTimeoutMs: 25_000, logLevel: 'info', maxBodyBytes: 1 << 20, rateLimit: undefined, unknownVars: [],
    });
    expect(c.dynamo).toEqual({ table: 'granary', endpoint: undefined, region: 'us-east-1', createTable: false });
  });

  it('a table selects DynamoDB; a NATS list is split on commas', () => {
    const c = readConfig({
      GRANARY_DYNAMODB_TABLE: 'prod-grains', GRANARY_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000', GRANARY_DYNAMODB_CREATE_TABLE: '1', AWS_REGION: 'eu-west-1',
      GRANARY_NATS_URL: 'nats://a:4222, nats://b:4222', GRANARY_CLUSTER: 'prod',
    });
    expect(c.storage).toBe('dynamodb');
    expect(c.dynamo).toEqual({ table: 'prod-grains', endpoint: 'http://127.0.0.1:8000', region: 'eu-west-1', createTable: true });
    expect(c.nats).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(c.cluster).toBe('prod');
  });

  it('rate limit burst defaults to twice the rate; empty values count as unset', () => {
    expect(readConfig({ GRANARY_RATE_LIMIT_RPS: '10' }).rateLimit).toEqual({ requestsPerSecond: 10, burst: 20 });
    expect(readConfig({ GRANARY_PORT: '', GRANARY_NATS_URL: '  ' })).toMatchObject({ port: 8080, nats: undefined });
  });

  it('unknown GRANARY_* variables are reported, others ignored', () => {
    expect(readConfig({ GRANARY_NAT_URL: 'x', HOME: '/root', GRANARY_PORT: '1' }).unknownVars).toEqual(['GRANARY_NAT_URL']);
  });

  it('errors name the variable', () => {
    const err = (() => { try { readConfig({ GRANARY_PORT: '8o8o' }); } catch (e) { return e; } })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.variable).toBe('GRANARY_PORT');
    expect(err.message).toMatch(/^GRANARY_PORT: expected a whole number from 0 to 65535, got "8o8o"$/);
    expect(() => readConfig({ GRANARY_STORAGE: 'dynamodb' })).toThrow(/GRANARY_DYNAMODB_TABLE: must be set/);
    expect(() => readConfig({ GRANARY_NATS_CREDS_FILE: '/x.creds' })).toThrow(/GRANARY_NATS_CREDS_FILE/);
  });

  it('every variable of API.md is known', () => {
    for (const v of ['GRANARY_NATS_URL', 'GRANARY_CLUSTER', 'GRANARY_DYNAMODB_TABLE', 'GRANARY_DYNAMODB_ENDPOINT', 'GRANARY_DYNAMODB_CREATE_TABLE', 'AWS_REGION', 'GRANARY_PORT', 'GRANARY_GRAINS', 'GRANARY_IDLE_TIMEOUT_MS']) {
      expect(KNOWN_ENV_VAR_NAMES).toContain(v);
    }
  });
});
