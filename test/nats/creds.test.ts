/**
 * NATS credentials files (JWT + nkey seed) against a nats-server in operator mode: the
 * container entry with GRANARY_NATS_CREDS_FILE joins and serves, a client with
 * `natsCluster({ credsFile })` reaches the same grain, and a connection without creds, or with
 * the creds of an account the server does not know, is refused saying so, no seed in any log.
 * Run `npm run build` first: the silo is the real entry-point process (dist/silo/main.js).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { GrainClient, SiloUnavailableError, natsCluster } from 'granary';
import { Counter } from '../../grains/index.js';
import { makeNatsOperator, type NatsOperator } from '../support/nats-operator.js';
import { NatsServer } from '../support/nats-server.js';
import { post, spawnSilo, type SiloProcess } from '../process/silo-process.js';

let trust: NatsOperator;
let server: NatsServer;
const started: SiloProcess[] = [];

beforeAll(async () => {
  trust = await makeNatsOperator();
  server = await NatsServer.start({ config: trust.serverConfig });
});
afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await server?.stop();
  trust?.remove();
});

const cluster = `creds${process.pid}`;

async function silo(env: Record<string, string>, waitReady = true): Promise<SiloProcess> {
  const p = await spawnSilo({ GRANARY_STORAGE: 'memory', GRANARY_NATS_URL: server.url, GRANARY_CLUSTER: cluster, ...env }, { waitReady });
  started.push(p);
  return p;
}

/** Everything the process wrote. */
const output = (p: SiloProcess) => JSON.stringify(p.logs) + p.nonJson.join('\n') + p.stderr;

function expectNoSecret(text: string): void {
  for (const secret of trust.secrets) expect(text).not.toContain(secret);
}

/** The silo process exits 1 with a log line saying NATS refused its credentials. */
async function startRefused(env: Record<string, string>): Promise<void> {
  const p = await silo(env, false);
  expect((await p.exited).code).toBe(1);
  const failure = p.logs.find((l) => l.msg === 'silo failed to start');
  expect(String(failure?.detail)).toContain(server.url);
  expect(String(failure?.detail)).toMatch(/refused the credentials \(.*Authorization Violation.*\)/i);
  expectNoSecret(output(p));
}

describe('NATS creds file (operator mode, JWT + nkey)', () => {
  it('the server really is in operator mode: the creds file holds a user JWT and its seed', () => {
    const creds = readFileSync(trust.userCreds, 'utf8');
    expect(creds).toMatch(/-----BEGIN NATS USER JWT-----\n[\w-]+\.[\w-]+\.[\w-]+\n------END NATS USER JWT------/);
    expect(creds).toMatch(/-----BEGIN USER NKEY SEED-----\nSU[A-Z2-7]+\n------END USER NKEY SEED------/);
    expect(server.output).toMatch(/Trusted Operators/);
  });

  it('GRANARY_NATS_CREDS_FILE: the silo joins and serves; a client with natsCluster({ credsFile }) calls the same grain', async () => {
    const p = await silo({ GRANARY_NATS_CREDS_FILE: trust.userCreds });
    expect(p.logs.find((l) => l.msg === 'silo ready')?.cluster).toBe(`nats:${cluster}`);
    expect(await post(p.url, '/grains/Counter/jwt/add', { args: [2] })).toEqual({ status: 200, body: { result: 2 } });
    const client = await GrainClient.connect({ cluster: natsCluster({ servers: server.url, name: cluster, credsFile: trust.userCreds }) });
    try {
      expect(await client.getGrain(Counter, 'jwt').add(1)).toBe(3);
    } finally {
      await client.close();
    }
    expect(await post(p.url, '/grains/Counter/jwt/get', { args: [] })).toEqual({ status: 200, body: { result: 3 } });
    expect((await p.signal('SIGTERM')).code).toBe(0);
    expectNoSecret(output(p));
  });

  it('no creds file: the silo fails to start, saying NATS refused the credentials', async () => {
    await startRefused({});
  });

  it('the creds of an account the server does not know: the silo fails to start, saying so, no seed shown', async () => {
    await startRefused({ GRANARY_NATS_CREDS_FILE: trust.strangerCreds });
  });

  it('a client without creds, or with unknown ones, gets SiloUnavailableError naming the refusal', async () => {
    for (const credsFile of [undefined, trust.strangerCreds]) {
      const err = await GrainClient.connect({ cluster: natsCluster({ servers: server.url, name: cluster, ...(credsFile ? { credsFile } : {}) }) }).then(
        async (c) => { await c.close(); return new Error('connected without valid credentials'); },
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(SiloUnavailableError);
      expect(err.message).toContain(server.url);
      expect(err.message).toMatch(/refused the credentials \(.*Authorization Violation.*\)/i);
      expectNoSecret(err.message);
    }
  });

  it('a creds file that cannot be read fails the start naming the file', async () => {
    const missing = `${trust.dir}/no-such.creds`;
    const p = await silo({ GRANARY_NATS_CREDS_FILE: missing }, false);
    expect((await p.exited).code).toBe(1);
    const failure = p.logs.find((l) => l.msg === 'silo failed to start');
    expect(String(failure?.detail)).toContain(`cannot read credsFile ${missing}`);
  });
});
