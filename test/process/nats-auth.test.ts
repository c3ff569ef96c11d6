/**
 * NATS credentials of the container entry: a token or user:password ride in GRANARY_NATS_URL
 * (docs/deploy.md). Entry-point processes against nats-servers that require them: the silo
 * joins and serves, a NATS client with the same credentials reaches its grains, wrong
 * credentials fail the start (exit 1) saying so, and no log line shows the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient } from 'granary';
import { Counter } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { post, spawnSilo, type SiloProcess } from './silo-process.js';

// A password with characters that must be percent-encoded in a URL.
const PASSWORD = 'p@ss:w/rd 42';
const TOKEN = 't0ken-s3cret-entry';
let withPassword: NatsServer;
let withToken: NatsServer;
const started: SiloProcess[] = [];

beforeAll(async () => {
  [withPassword, withToken] = await Promise.all([
    NatsServer.start({ config: `authorization { users = [ { user: "granary", password: ${JSON.stringify(PASSWORD)} } ] }` }),
    NatsServer.start({ config: `authorization { token: ${JSON.stringify(TOKEN)} }` }),
  ]);
});
afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await Promise.all([withPassword, withToken].map((s) => s?.stop()));
});

/** `nats://<userinfo>@127.0.0.1:<port>` */
const withCredentials = (server: NatsServer, userinfo: string) => server.url.replace('nats://', `nats://${userinfo}@`);

async function silo(env: Record<string, string>, waitReady = true): Promise<SiloProcess> {
  const p = await spawnSilo({ GRANARY_STORAGE: 'memory', ...env }, { waitReady });
  started.push(p);
  return p;
}

/** Everything the process wrote. */
const output = (p: SiloProcess) => JSON.stringify(p.logs) + p.nonJson.join('\n') + p.stderr;

async function joinsWith(url: string, cluster: string, secret: string): Promise<void> {
  const p = await silo({ GRANARY_NATS_URL: url, GRANARY_CLUSTER: cluster });
  expect(p.logs.find((l) => l.msg === 'silo ready')?.cluster).toBe(`nats:${cluster}`);
  expect(await post(p.url, '/grains/Counter/authed/add', { args: [2] })).toEqual({ status: 200, body: { result: 2 } });
  const client = await GrainClient.connect({ nats: url, cluster });
  try {
    expect(await client.getGrain(Counter, 'authed').add(1)).toBe(3);
  } finally {
    await client.close();
  }
  expect((await p.signal('SIGTERM')).code).toBe(0);
  expect(output(p)).not.toContain(secret);
}

async function refusedWith(url: string, secret: string): Promise<void> {
  const p = await silo({ GRANARY_NATS_URL: url }, false);
  expect((await p.exited).code).toBe(1);
  const failure = p.logs.find((l) => l.msg === 'silo failed to start');
  expect(String(failure?.detail)).toMatch(/refused the credentials/);
  expect(output(p)).not.toContain(secret);
}

describe('NATS credentials in GRANARY_NATS_URL', () => {
  it('user:password (percent-encoded): the silo joins and serves; a wrong password fails the start without showing it', async () => {
    const encoded = encodeURIComponent(PASSWORD);
    await joinsWith(withCredentials(withPassword, `granary:${encoded}`), `pw${process.pid}`, encoded);
    // A ":" may stay as it is in the password: only the first one ends the user (RFC 3986).
    const rawColons = encoded.replaceAll('%3A', ':');
    await joinsWith(withCredentials(withPassword, `granary:${rawColons}`), `pwc${process.pid}`, rawColons);
    await refusedWith(withCredentials(withPassword, 'granary:not-the-password'), 'not-the-password');
    await refusedWith(withPassword.url, PASSWORD);
  });

  it('token: the silo joins and serves; a wrong token fails the start without showing it', async () => {
    await joinsWith(withCredentials(withToken, TOKEN), `tok${process.pid}`, TOKEN);
    await refusedWith(withCredentials(withToken, 'wrong-token-123'), 'wrong-token-123');
  });
});
