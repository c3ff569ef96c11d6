/** Auth and TLS options pass through to NATS: a cluster on servers that require them, and clean failures without. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nkeys } from 'nats';
import { GrainClient, Silo, SiloUnavailableError, memoryStorage, natsCluster, type NatsClusterOptions } from 'granary';
import { Counter } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { makeTestPki, type TestPki } from '../support/tls-certs.js';

const user = nkeys.createUser();
const nkeySeed = new TextDecoder().decode(user.getSeed());
let pki: TestPki;
/** The client could not verify the server's certificate: the message says so. */
const CERT_NOT_TRUSTED = /could not connect to NATS at .*: .*certificate/;
/**
 * The server dropped the TLS handshake (no client certificate, or an untrusted one). The NATS
 * client sees only a connection that never came up: the refusal is clean, but says no more.
 */
const CLIENT_CERT_REFUSED = /could not connect to NATS at /;

let withToken: NatsServer;
let withPassword: NatsServer;
let withNkey: NatsServer;
let withTls: NatsServer;
let withMutualTls: NatsServer;
beforeAll(async () => {
  pki = makeTestPki();
  const serverTls = `cert_file: "${pki.server.cert}", key_file: "${pki.server.key}"`;
  [withToken, withPassword, withNkey, withTls, withMutualTls] = await Promise.all([
    NatsServer.start({ config: 'authorization { token: "t0ken-s3cret" }' }),
    NatsServer.start({ config: 'authorization { users = [ { user: "granary", password: "pa55word" } ] }' }),
    NatsServer.start({ config: `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }` }),
    NatsServer.start({ config: `tls { ${serverTls} }` }),
    // Mutual TLS: the server asks every client for a certificate its CA signed.
    NatsServer.start({ config: `tls { ${serverTls}, ca_file: "${pki.ca}", verify: true }` }),
  ]);
});
afterAll(async () => {
  await Promise.all([withToken, withPassword, withNkey, withTls, withMutualTls].map((s) => s?.stop()));
  pki?.remove();
});

/** Two silos and a client on `options`; calls go both ways across silos. */
async function runCluster(options: NatsClusterOptions): Promise<void> {
  const storage = memoryStorage();
  const a = await Silo.start({ grains: [Counter], cluster: natsCluster(options), storage });
  const b = await Silo.start({ grains: [Counter], cluster: natsCluster(options), storage });
  const client = await GrainClient.connect({ cluster: natsCluster(options) });
  try {
    for (let i = 0; i < 10; i++) expect(await client.getGrain(Counter, `k${i}`).add(1)).toBe(1);
    for (let i = 0; i < 10; i++) expect(await a.getGrain(Counter, `k${i}`).add(1)).toBe(2);
    for (let i = 0; i < 10; i++) expect(await b.getGrain(Counter, `k${i}`).add(1)).toBe(3);
    expect(a.activationCount('Counter') + b.activationCount('Counter')).toBe(10);
  } finally {
    await client.close();
    await Promise.all([a.stop(), b.stop()]);
  }
}

async function refused(options: NatsClusterOptions, url: string, why: RegExp): Promise<void> {
  const err = await Silo.start({ grains: [Counter], cluster: natsCluster(options) }).then(
    (s) => { void s.stop(); return new Error('connected without credentials'); },
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(SiloUnavailableError);
  expect(err.message).toContain(url);
  expect(err.message).toMatch(why);
}

describe('NATS security options', () => {
  it('token', async () => {
    await runCluster({ servers: withToken.url, name: 'sec', token: 't0ken-s3cret' });
    await refused({ servers: withToken.url, name: 'sec' }, withToken.url, /refused the credentials/);
    await refused({ servers: withToken.url, name: 'sec', token: 'wrong' }, withToken.url, /refused the credentials/);
  });

  it('user and password (options, or in the URL for GrainClient.connect({ nats }))', async () => {
    await runCluster({ servers: withPassword.url, name: 'sec', user: 'granary', pass: 'pa55word' });
    await refused({ servers: withPassword.url, name: 'sec' }, withPassword.url, /refused the credentials/);
    await refused({ servers: withPassword.url, name: 'sec', user: 'granary', pass: 'nope' }, withPassword.url, /refused the credentials/);
    const storage = memoryStorage();
    const silo = await Silo.start({ grains: [Counter], storage, cluster: natsCluster({ servers: withPassword.url, name: 'url', user: 'granary', pass: 'pa55word' }) });
    const inUrl = withPassword.url.replace('nats://', 'nats://granary:pa55word@');
    const client = await GrainClient.connect({ nats: inUrl, cluster: 'url' });
    try {
      expect(await client.getGrain(Counter, 'u').add(5)).toBe(5);
    } finally {
      await client.close();
      await silo.stop();
    }
    // The password is masked in messages.
    const err = await GrainClient.connect({ nats: inUrl.replace('pa55word', 'leaked'), cluster: 'url' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(SiloUnavailableError);
    expect((err as Error).message).not.toContain('leaked');
  });

  it('nkey', async () => {
    await runCluster({ servers: withNkey.url, name: 'sec', nkeySeed });
    await refused({ servers: withNkey.url, name: 'sec' }, withNkey.url, /refused the credentials/);
    const other = new TextDecoder().decode(nkeys.createUser().getSeed());
    await refused({ servers: withNkey.url, name: 'sec', nkeySeed: other }, withNkey.url, /refused the credentials/);
  });

  it('TLS with a private CA', async () => {
    await runCluster({ servers: withTls.url, name: 'sec', tls: { caFile: pki.ca } });
    // Without the CA the certificate cannot be verified: a clean refusal that says why, not a hang.
    await refused({ servers: withTls.url, name: 'sec' }, withTls.url, CERT_NOT_TRUSTED);
  });

  it('mutual TLS: a client certificate the server trusts', async () => {
    const mine = { caFile: pki.ca, certFile: pki.client.cert, keyFile: pki.client.key };
    await runCluster({ servers: withMutualTls.url, name: 'sec', tls: mine });
    // No client certificate, or one from a CA the server does not trust: refused.
    // (A short connect timeout: that is how the NATS client ends a dropped handshake.)
    const refuse = { servers: withMutualTls.url, name: 'sec', connectTimeoutMs: 1_000 };
    await refused({ ...refuse, tls: { caFile: pki.ca } }, withMutualTls.url, CLIENT_CERT_REFUSED);
    await refused({ ...refuse, tls: { caFile: pki.ca, certFile: pki.stranger.cert, keyFile: pki.stranger.key } }, withMutualTls.url, CLIENT_CERT_REFUSED);
  });
});
