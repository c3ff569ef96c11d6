/**
 * The gateway's fair-limit settings in the entry point's configuration (silo/config.ts),
 * without a process: defaults, parsing, and errors that name the variable.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, KNOWN_ENV_VAR_NAMES, readConfig } from '../../silo/config.js';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    readConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`readConfig(${JSON.stringify(env)}) did not fail`);
}

describe('gateway settings', () => {
  it('are known variables', () => {
    for (const v of ['GRANARY_TRUSTED_PROXIES', 'GRANARY_REQUEST_TIMEOUT_MS', 'GRANARY_HEADERS_TIMEOUT_MS', 'GRANARY_MAX_CONNECTIONS']) {
      expect(KNOWN_ENV_VAR_NAMES).toContain(v);
    }
  });

  it('defaults: no trusted proxy, 30 s for a request, 10 s for its headers, 1000 connections', () => {
    expect(readConfig({})).toMatchObject({ trustedProxies: [], connections: { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, maxConnections: 1_000 } });
    // A request timeout below the headers default pulls the headers timeout down with it.
    expect(readConfig({ GRANARY_REQUEST_TIMEOUT_MS: '4000' }).connections).toEqual({ requestTimeoutMs: 4_000, headersTimeoutMs: 4_000, maxConnections: 1_000 });
  });

  it('trusted proxies: addresses, ranges and names, comma-separated', () => {
    expect(readConfig({ GRANARY_TRUSTED_PROXIES: ' 10.0.0.0/8, 127.0.0.1,fd00::/8 , loopback ' }).trustedProxies)
      .toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', 'loopback']);
  });

  it('bad values name the variable and say what is expected', () => {
    expect(errorOf({ GRANARY_TRUSTED_PROXIES: '10.0.0.0/33' })).toMatchObject({ variable: 'GRANARY_TRUSTED_PROXIES', message: expect.stringMatching(/"10\.0\.0\.0\/33" is not an IP address, a CIDR range/) });
    expect(errorOf({ GRANARY_TRUSTED_PROXIES: 'proxy.internal' }).variable).toBe('GRANARY_TRUSTED_PROXIES');
    expect(errorOf({ GRANARY_REQUEST_TIMEOUT_MS: '0' }).variable).toBe('GRANARY_REQUEST_TIMEOUT_MS');
    expect(errorOf({ GRANARY_HEADERS_TIMEOUT_MS: '1.5' }).variable).toBe('GRANARY_HEADERS_TIMEOUT_MS');
    expect(errorOf({ GRANARY_REQUEST_TIMEOUT_MS: '5000', GRANARY_HEADERS_TIMEOUT_MS: '6000' })).toMatchObject({
      variable: 'GRANARY_HEADERS_TIMEOUT_MS', message: expect.stringMatching(/more than GRANARY_REQUEST_TIMEOUT_MS \(5000\)/),
    });
    expect(errorOf({ GRANARY_MAX_CONNECTIONS: '0' }).variable).toBe('GRANARY_MAX_CONNECTIONS');
  });
});

describe('GRANARY_AUTH_TOKEN', () => {
  it('takes RFC 6750 token characters only, at least 8 of them', () => {
    expect(readConfig({ GRANARY_AUTH_TOKEN: 'aZ09-._~+/==' }).authToken).toBe('aZ09-._~+/==');
    for (const bad of ['abc!defgh', 'quote"token', 'semi;colon1', 'short', 'pad=ding1']) {
      expect(errorOf({ GRANARY_AUTH_TOKEN: bad }), bad).toMatchObject({ variable: 'GRANARY_AUTH_TOKEN', message: expect.stringMatching(/RFC 6750/) });
    }
  });
});
