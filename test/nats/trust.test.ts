/**
 * The trust model (docs/nats.md, "Credentials and permissions") on a real nats-server run with
 * the shipped deploy/nats/nats.conf, adapted only to a free port, a temp store (the helper's
 * `-p`/`-sd`) and its TLS block uncommented with a private CA. Silos use the silo user and a
 * cluster key; clients the client user. Each attack of the red team's report fails with a
 * permissions violation or is refused without effect, and the cluster works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, Events, headers, type Msg, type NatsConnection, type NatsError } from 'nats';
import { GrainClient, Silo, TransactionAbortedError, memoryStorage, natsCluster, type NatsClusterOptions } from 'granary';
import { decode, encode, type Reply } from 'granary/internal';
import { Account, Counter } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { shippedConfigEnv, shippedNatsConfig } from '../support/shipped-nats-config.js';
import { makeTestPki, type TestPki } from '../support/tls-certs.js';
import { post, spawnSilo } from '../process/silo-process.js';

const SILO_PASSWORD = 'silo-pw-0123456789';
const CLIENT_PASSWORD = 'client-pw-0123456789';
const CLUSTER_KEY = 'k3y-of-the-cluster-0123456789';
/** The shipped config is for the default cluster name. */
const CLUSTER = 'granary';
const P = `granary.${CLUSTER}`;
const DIRECTORY_BUCKET = `granary-${CLUSTER}-directory`;
const MEMBERSHIP_BUCKET = `granary-${CLUSTER}-silos`;

let pki: TestPki;
let server: NatsServer;
let storage: ReturnType<typeof memoryStorage>;
const silos: Silo[] = [];
const closers: (() => Promise<unknown>)[] = [];

const siloOptions = (): NatsClusterOptions => ({
  servers: server.url, name: CLUSTER, user: 'granary-silo', pass: SILO_PASSWORD, tls: { caFile: pki.ca }, clusterKey: CLUSTER_KEY,
});
const clientOptions = (extra: Partial<NatsClusterOptions> = {}): NatsClusterOptions => ({
  servers: server.url, name: CLUSTER, user: 'granary-client', pass: CLIENT_PASSWORD, tls: { caFile: pki.ca }, ...extra,
});

async function client(extra: Partial<NatsClusterOptions> = {}): Promise<GrainClient> {
  const c = await GrainClient.connect({ cluster: natsCluster(clientOptions(extra)) });
  closers.push(() => c.close());
  return c;
}

/** A plain NATS connection with a Granary credential, as an attacker holding it would open. */
async function raw(as: 'client' | 'silo'): Promise<NatsConnection> {
  const nc = await connect({
    servers: server.url, tls: { caFile: pki.ca },
    ...(as === 'client'
      ? { user: 'granary-client', pass: CLIENT_PASSWORD, inboxPrefix: `${P}.inbox.client` }
      : { user: 'granary-silo', pass: SILO_PASSWORD, inboxPrefix: `${P}.inbox.silo` }),
  });
  closers.push(() => nc.close());
  return nc;
}

/** Resolves with the server's permissions violation for `operation` on `subject`. */
async function violation(nc: NatsConnection, operation: 'publish' | 'subscription', subject: string): Promise<void> {
  for await (const s of nc.status()) {
    const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
    if (s.type === Events.Error && s.data === 'PERMISSIONS_VIOLATION' && ctx?.operation === operation && ctx.subject === subject) return;
  }
  throw new Error('the connection closed without the expected permissions violation');
}

/** Waits until `check` holds, looking again every 20 ms. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

/** One frame of records `[u32 id][u8 kind][u32 length][text]` (silo/nats/frames.ts). */
function frame(records: { id: number; kind: number; text: string }[]): Uint8Array {
  const parts = records.map(({ id, kind, text }) => {
    const body = Buffer.from(text, 'utf8');
    const head = Buffer.alloc(9);
    head.writeUInt32BE(id, 0);
    head.writeUInt8(kind, 4);
    head.writeUInt32BE(body.length, 5);
    return Buffer.concat([head, body]);
  });
  return Buffer.concat(parts);
}

function records(data: Uint8Array): { id: number; kind: number; text: string }[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: { id: number; kind: number; text: string }[] = [];
  for (let off = 0; off < buf.length;) {
    const len = buf.readUInt32BE(off + 5);
    out.push({ id: buf.readUInt32BE(off), kind: buf.readUInt8(off + 4), text: buf.toString('utf8', off + 9, off + 9 + len) });
    off += 9 + len;
  }
  return out;
}

const CALL = 0;
const PING = 1;
const PONG = 2;

/** Collects what arrives on a fresh reply subject of `nc` (under its inbox). */
function inbox(nc: NatsConnection, prefix: string) {
  const subject = `${prefix}.${Math.random().toString(36).slice(2)}`;
  const got: Msg[] = [];
  const waiters: (() => void)[] = [];
  nc.subscribe(subject, { callback: (_e, m) => { got.push(m); for (const w of waiters.splice(0)) w(); } });
  return {
    subject,
    got,
    /** Waits until `check` holds over what arrived. */
    async until(check: (got: Msg[]) => boolean): Promise<void> {
      while (!check(got)) await new Promise<void>((r) => waiters.push(r));
    },
    records: () => got.flatMap((m) => records(m.data)),
    bytes: () => got.reduce((n, m) => n + m.data.byteLength, 0),
  };
}

beforeAll(async () => {
  pki = makeTestPki();
  server = await NatsServer.start({
    config: shippedNatsConfig({ tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca } }),
    env: shippedConfigEnv({ silo: SILO_PASSWORD, client: CLIENT_PASSWORD }),
  });
  storage = memoryStorage();
  for (let i = 0; i < 2; i++) silos.push(await Silo.start({ grains: [Counter, Account], cluster: natsCluster(siloOptions()), storage }));
}, 60_000);

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await Promise.all(silos.map((s) => s.stop()));
  await server?.stop();
  pki?.remove();
});

describe('NATS trust model with deploy/nats/nats.conf', () => {
  it('the cluster works: silos with the silo user, GrainClient.connect with the client user (through the gateway)', async () => {
    const c = await client();
    const keys = Array.from({ length: 40 }, (_, i) => `work${i}`);
    // One at a time, so each goes to a silo of the gateway group on its own (a batch would go together).
    for (const k of keys) expect(await c.getGrain(Counter, k).add(2)).toBe(2);
    // Again, all at once: now straight to the silo each reply named.
    expect(await Promise.all(keys.map((k) => c.getGrain(Counter, k).add(1)))).toEqual(keys.map(() => 3));
    const [a, b] = silos;
    // This test's grains only (other tests, in any order, activate Counters too).
    const hosted = (s: Silo) => keys.filter((k) => s.catalog.get(`Counter/${k}`) !== undefined).length;
    expect(hosted(a!) + hosted(b!)).toBe(40);
    expect(hosted(a!)).toBeGreaterThan(0);
    expect(hosted(b!)).toBeGreaterThan(0);
    // Silo to silo (signed, on the internal subjects): each silo reaches the other's grains.
    for (const k of keys) expect([await a!.getGrain(Counter, k).get(), await b!.getGrain(Counter, k).get()]).toEqual([3, 3]);
  });

  it('the entry point joins with GRANARY_NATS_USER/PASSWORD, GRANARY_CLUSTER_KEY and GRANARY_NATS_CA_FILE over tls:// (needs npm run build)', async () => {
    const p = await spawnSilo({
      GRANARY_NATS_URL: server.url.replace('nats://', 'tls://'),
      GRANARY_CLUSTER: CLUSTER,
      GRANARY_NATS_USER: 'granary-silo',
      GRANARY_NATS_PASSWORD: SILO_PASSWORD,
      GRANARY_CLUSTER_KEY: CLUSTER_KEY,
      GRANARY_NATS_CA_FILE: pki.ca,
      GRANARY_STORAGE: 'memory',
    });
    closers.push(async () => { if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; } });
    const ready = p.logs.find((l) => l.msg === 'silo ready')!;
    // Its own gateway reaches a grain that lives on the in-process silos (signed internal calls both ways).
    const c = await client();
    expect(await c.getGrain(Counter, 'entry').add(4)).toBe(4);
    expect(await post(p.url, '/grains/Counter/entry/add', { args: [1] })).toEqual({ status: 200, body: { result: 5 } });
    await until(() => silos[0]!.connection.membership.isLive(String(ready.silo)));
    // Streams on JetStream under the same permissions: append, then read back over SSE.
    expect(await post(p.url, '/streams/chat/trust', { item: 'one' })).toEqual({ status: 200, body: { seq: 1 } });
    expect(await post(p.url, '/streams/chat/trust', { item: { two: 2 } })).toEqual({ status: 200, body: { seq: 2 } });
    expect(await readEvents(`${p.url}/streams/chat/trust?from=1`, 2)).toEqual([{ id: '1', data: 'one' }, { id: '2', data: { two: 2 } }]);
    expect((await p.signal('SIGTERM')).code).toBe(0);
    expect(JSON.stringify(p.logs) + p.stderr).not.toContain(SILO_PASSWORD);
    expect(JSON.stringify(p.logs) + p.stderr).not.toContain(CLUSTER_KEY);
  });

  it('a client credential cannot read or write membership or the directory, nor use the JetStream API', async () => {
    const nc = await raw('client');
    await expect(nc.jetstreamManager()).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    await expect(nc.request(`$JS.API.DIRECT.GET.KV_${DIRECTORY_BUCKET}.$KV.${DIRECTORY_BUCKET}.x`)).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    // Listing either bucket by watching its subjects.
    for (const bucket of [MEMBERSHIP_BUCKET, DIRECTORY_BUCKET]) {
      const denied = violation(nc, 'subscription', `$KV.${bucket}.>`);
      nc.subscribe(`$KV.${bucket}.>`);
      await denied;
    }
    // Registering a fake silo (to be given grains) and taking a grain in the directory.
    const fake = '01FAKE0000000000000000SILO';
    const info = JSON.stringify({ id: fake, types: ['Counter'], startedAt: Date.now(), status: 'active' });
    for (const [subject, value] of [[`$KV.${MEMBERSHIP_BUCKET}.${fake}`, info], [`$KV.${DIRECTORY_BUCKET}.${Buffer.from('Counter/stolen').toString('base64url')}`, JSON.stringify({ silo: fake, activation: 'x' })]] as const) {
      const denied = violation(nc, 'publish', subject);
      nc.publish(subject, value);
      await denied;
    }
    const silo = await raw('silo');
    const js = silo.jetstream();
    expect(await (await js.views.kv(MEMBERSHIP_BUCKET)).get(fake)).toBeNull();
    expect(await (await js.views.kv(DIRECTORY_BUCKET)).get(Buffer.from('Counter/stolen').toString('base64url'))).toBeNull();
    expect(silos[0]!.connection.membership.isLive(fake)).toBe(false);
  });

  it('a client credential cannot listen on silo subjects: every call gets the real answer', async () => {
    const nc = await raw('client');
    const [a, b] = silos;
    const forge = (m: Msg) => { if (m.reply) nc.publish(m.reply, frame([{ id: 1, kind: 0, text: '"forged"' }])); };
    for (const subject of [`${P}.call.${a!.id}`, `${P}.internal.${b!.id}`, `${P}.gateway`, `${P}.inbox.silo.>`]) {
      const denied = violation(nc, 'subscription', subject);
      nc.subscribe(subject, { callback: (_e, m) => forge(m), ...(subject.endsWith('gateway') ? { queue: 'silos' } : {}) });
      await denied;
    }
    const c = await client();
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await c.getGrain(Counter, `imp${i}`).add(7));
    expect(answers).toEqual(Array.from({ length: 20 }, () => 7));
  });

  it('a client credential cannot send silo-to-silo messages; runtime messages on the client subjects are refused', async () => {
    const nc = await raw('client');
    const a = silos[0]!;
    const call = (method: string, target: string, args: unknown[]) => encode({ k: 'call', target, method, args, timeout: 5000, hops: 0, placed: false });
    // Straight onto the internal subject: the server drops it.
    const denied = violation(nc, 'publish', `${P}.internal.${a.id}`);
    nc.publish(`${P}.internal.${a.id}`, frame([{ id: 1, kind: CALL, text: call('add', 'Counter/injected', [5]) }]), { reply: `${P}.inbox.client.x.y` });
    await denied;

    // On the client subject, the silo refuses the runtime message and the transaction context.
    const box = inbox(nc, `${P}.inbox.client.attacker`);
    nc.publish(`${P}.call.${a.id}`, frame([
      { id: 1, kind: CALL, text: call('$txn.resolve', 'Account/victim', ['0000txnid', true]) },
      { id: 2, kind: CALL, text: encode({ k: 'call', target: 'Account/victim', method: 'deposit', args: [1], timeout: 5000, hops: 0, placed: false, ext: { txn: { id: 'forged', dl: Date.now() + 3_600_000 } } }) },
      // A call chain naming the target would let the call into its turn (reentrancy).
      { id: 3, kind: CALL, text: encode({ k: 'call', target: 'Counter/busy', method: 'add', args: [1], timeout: 5000, hops: 0, placed: false, chain: ['Counter/busy'] }) },
    ]), { reply: box.subject });
    await box.until(() => box.records().length === 3);
    for (const r of box.records()) {
      const reply = decode(r.text) as Reply;
      expect(reply.k).toBe('err');
      expect(reply.k === 'err' && reply.error.code).toBe('forbidden');
    }
    const c = await client();
    expect(await c.getGrain(Counter, 'injected').get()).toBe(0);

    // Through GrainClient: a transaction without the key aborts at its first call, saying why.
    const err = await c.transaction(async () => { await c.getGrain(Account, 'nokey').deposit(5); }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TransactionAbortedError);
    expect(String((err as Error & { cause?: Error }).cause?.message ?? err)).toMatch(/cluster key/);
    expect(await c.getGrain(Account, 'nokey').balance()).toBe(0);
    // With the key, the same client credential coordinates transactions.
    const trusted = await client({ clusterKey: CLUSTER_KEY });
    await trusted.transaction(async () => {
      await trusted.getGrain(Account, 'withkey-a').deposit(5);
      await trusted.getGrain(Account, 'withkey-b').deposit(6);
    });
    expect(await c.getGrain(Account, 'withkey-a').balance()).toBe(5);
    expect(await c.getGrain(Account, 'withkey-b').balance()).toBe(6);
  });

  it('with a cluster key, a silo refuses silo-to-silo frames not signed with it (one short refusal)', async () => {
    const nc = await raw('silo'); // the silo credential, without the key
    const box = inbox(nc, `${P}.inbox.silo.nokey`);
    const text = encode({ k: 'call', target: 'Counter/unsigned', method: 'add', args: [1], timeout: 5000, hops: 0, placed: false });
    nc.publish(`${P}.internal.${silos[0]!.id}`, frame([{ id: 1, kind: CALL, text }, { id: 2, kind: CALL, text }]), { reply: box.subject });
    await box.until((got) => got.length === 1);
    expect(box.got[0]!.data.byteLength).toBe(0);
    expect(box.got[0]!.headers?.get('Granary-Refused')).toBe('unauthenticated');
    const c = await client();
    expect(await c.getGrain(Counter, 'unsigned').get()).toBe(0);
  });

  it('a silo answers only under the cluster inboxes: a reply subject in the directory bucket writes nothing', async () => {
    const nc = await raw('client');
    const a = silos[0]!;
    const key = Buffer.from('Counter/hijacked').toString('base64url');
    const box = inbox(nc, `${P}.inbox.client.probe`);
    for (const reply of [`$KV.${DIRECTORY_BUCKET}.${key}`, `$JS.API.STREAM.DELETE.KV_${DIRECTORY_BUCKET}`, `${P}.internal.${a.id}`]) {
      nc.publish(`${P}.call.${a.id}`, frame([{ id: 9, kind: CALL, text: 'garbage' }]), { reply });
    }
    // The silo handles messages in order: once this ping is answered, those were seen and ignored.
    nc.publish(`${P}.call.${a.id}`, frame([{ id: 77, kind: PING, text: '' }]), { reply: box.subject });
    await box.until((got) => got.length === 1);
    expect(box.records()).toEqual([{ id: 77, kind: PONG, text: '' }]);
    const js = (await raw('silo')).jetstream();
    expect(await (await js.views.kv(DIRECTORY_BUCKET)).get(key)).toBeNull();
  });

  it('no amplification: a malformed frame gets one refusal; N records get at most N replies and no more bytes than they carried (plus 64 kB)', async () => {
    const nc = await raw('client');
    const a = silos[0]!;
    const box = inbox(nc, `${P}.inbox.client.amp`);
    // Truncated: one refusal for the frame, nothing for its records.
    const whole = frame([{ id: 1, kind: CALL, text: 'x'.repeat(50) }, { id: 2, kind: CALL, text: 'y'.repeat(20) }]);
    const truncated = whole.subarray(0, whole.byteLength - 5);
    nc.publish(`${P}.call.${a.id}`, truncated, { reply: box.subject });
    nc.publish(`${P}.call.${a.id}`, frame([{ id: 3, kind: PING, text: '' }]), { reply: box.subject });
    await box.until(() => box.records().length === 1);
    expect(box.got.length).toBe(2);
    expect(box.got[0]!.headers?.get('Granary-Refused')).toBe('malformed');
    expect(box.got[0]!.data.byteLength).toBe(0);

    // A frame of max_payload (1 MB) of empty call records (the red team's 20× case), then 128 kB of tiny garbage ones.
    for (const [text, size] of [['', nc.info!.max_payload], ['{}', 128 * 1024]] as const) {
      const n = Math.floor(size / (9 + text.length));
      const flood = inbox(nc, `${P}.inbox.client.flood`);
      const sent = frame(Array.from({ length: n }, (_, i) => ({ id: i + 1, kind: CALL, text })));
      nc.publish(`${P}.call.${a.id}`, sent, { reply: flood.subject });
      await flood.until(() => flood.records().length >= n);
      const replies = flood.records();
      expect(replies.length).toBe(n);
      expect(new Set(replies.map((r) => r.id)).size).toBe(n);
      expect(flood.bytes()).toBeLessThanOrEqual(sent.byteLength + 64 * 1024);
      // The first ones still say what was wrong; the rest are sent without their text.
      expect((decode(replies[0]!.text) as Reply).k).toBe('err');
    }
  }, 120_000);
});

/** The first `n` Server-Sent Events at `url`: their `id:` and their `data:` parsed as JSON. */
async function readEvents(url: string, n: number): Promise<{ id: string; data: unknown }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 15_000);
  try {
    const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: { id: string; data: unknown }[] = [];
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const id = /^id: ?(.*)$/m.exec(block)?.[1];
        const data = /^data: ?(.*)$/m.exec(block)?.[1];
        if (id !== undefined && data !== undefined) events.push({ id, data: JSON.parse(data) });
        if (events.length === n) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
