/**
 * Streams (issue 12), each figure beside its limit measured in the same run, same server,
 * same payload, in alternating rounds:
 *  - publish throughput at c1 and c64 (c64: 64 publishers, one stream each) through
 *    `client.getStream(…).publish` on the NATS JetStream provider, vs raw `js.publish` with
 *    ack on the same subjects' shape (target ≥ 0.8×);
 *  - end-to-end delivery to an implicit subscriber grain (publish → `onStreamItem` running),
 *    p50/p99 latency one item at a time and items/s for a burst, vs a raw JetStream ordered
 *    consumer on the same server (the burst's publishing, one key from one process, is
 *    printed beside it: appends to one key go one at a time, so it bounds the burst); and
 *    items/s delivering a backlog of 2 000 already published items (a durable subscription
 *    `from: 1`) vs a raw ordered consumer reading 2 000 stored messages;
 *  - 10 000 grains holding durable subscriptions to 10 000 idle streams: activations on the
 *    silo (target 0) and the silo's heap growth (memory provider, so the figure is the
 *    silo's own cost, not the provider's).
 */
import { connect, headers as natsHeaders, type JetStreamClient } from 'nats';
import { GrainClient, Grain, Silo, memoryStorage, memoryStreams, natsCluster, natsStreams, type StreamItemMeta } from 'granary';
import { NatsServer, closedLoop } from './_nats-support.js';
import { fmtMs, fmtRate, heading, median, percentile, row, figure } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_MS ?? 1000);
const PAYLOAD = { text: 'x'.repeat(100), n: 1 };

/** Wakes whoever waits for item `seq` of a key (end-to-end latency). */
const arrived = new Map<string, (at: number) => void>();
let delivered = 0;
let backlogDelivered = 0;

export class BenchSink extends Grain {
  static grainType = 'BenchSink';
  static implicitStreams = ['e2e'];
  async onStreamItem(_item: unknown, meta: StreamItemMeta): Promise<void> {
    delivered++;
    arrived.get(`${meta.key}#${meta.seq}`)?.(performance.now());
  }

  /** Subscribes durably to (`backlog`, key) from its first item. */
  async follow(key: string): Promise<void> {
    await this.getStream('backlog', key).subscribe('onBacklog', { from: 1 });
  }

  async onBacklog(): Promise<void> {
    backlogDelivered++;
  }
}

export class IdleSubscriber extends Grain {
  static grainType = 'IdleSubscriber';
  async onItem(): Promise<void> {}
}

async function publishThroughput(url: string, cluster: string): Promise<void> {
  heading('publish throughput (NATS JetStream, ack awaited)');
  const streams = natsStreams({ servers: url, name: cluster });
  const client = await GrainClient.connect({ cluster: natsCluster({ servers: url, name: cluster }), streams });
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: `RAW_${cluster}`, subjects: [`raw.${cluster}.*`], max_msgs_per_subject: 10_000, allow_direct: true });
  const js: JetStreamClient = nc.jetstream();
  const body = new TextEncoder().encode(JSON.stringify(PAYLOAD));
  for (const c of [1, 64]) {
    const g: number[] = [], r: number[] = [], ratios: number[] = [];
    // Warm-up: both paths, every key.
    await closedLoop(c, 200, (w) => client.getStream('pub', `k${w}`).publish(PAYLOAD));
    await closedLoop(c, 200, (w) => js.publish(`raw.${cluster}.k${w}`, body));
    for (let i = 0; i < ROUNDS; i++) {
      const a = await closedLoop(c, MS, (w) => client.getStream('pub', `k${w}`).publish(PAYLOAD));
      const b = await closedLoop(c, MS, (w) => {
        // Raw with the same work on the wire: a header, the ack awaited.
        const h = natsHeaders(); h.set('Granary-Seq', '1');
        return js.publish(`raw.${cluster}.k${w}`, body, { headers: h });
      });
      g.push(a.rate); r.push(b.rate); ratios.push(a.rate / b.rate);
    }
    row({ label: `publish c${c}`, value: fmtRate(median(g)), limitLabel: 'raw js.publish with ack', limit: fmtRate(median(r)), ratios, atLeast: 0.8 });
  }
  await client.close();
  await streams.close();
  await nc.close();
}

async function endToEnd(url: string, cluster: string): Promise<void> {
  heading('end-to-end delivery to an implicit subscriber grain vs a raw JetStream consumer');
  const streams = natsStreams({ servers: url, name: cluster });
  const silo = await Silo.start({ grains: [BenchSink], cluster: natsCluster({ servers: url, name: cluster }), storage: memoryStorage(), streams });
  const client = await GrainClient.connect({ cluster: natsCluster({ servers: url, name: cluster }), streams });
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: `RAWE2E_${cluster}`, subjects: [`rawe2e.${cluster}.*`] });
  const js = nc.jetstream();
  const rawArrived = new Map<number, (at: number) => void>();
  let rawSeq = 0;
  let rawCount = 0;
  const consumer = await js.consumers.get(`RAWE2E_${cluster}`); // ordered consumer
  const messages = await consumer.consume();
  void (async () => { for await (const m of messages) { rawCount++; rawArrived.get(m.seq)?.(performance.now()); } })();
  const body = new TextEncoder().encode(JSON.stringify(PAYLOAD));

  const oneGranary = async (key: string) => {
    // The sink may run before publish resolves: the waiter is set for the next seq first.
    const s = client.getStream('e2e', key);
    const next = (await streams.read('e2e', key, Number.MAX_SAFE_INTEGER, 0)).last + 1;
    const seen = new Promise<number>((resolve) => arrived.set(`${key}#${next}`, resolve));
    const t0 = performance.now();
    await s.publish(PAYLOAD);
    const at = await seen;
    arrived.delete(`${key}#${next}`);
    return at - t0;
  };
  const oneRaw = async () => {
    const t0 = performance.now();
    const seq = rawSeq + 1;
    const seen = new Promise<number>((resolve) => rawArrived.set(seq, resolve));
    const ack = await js.publish(`rawe2e.${cluster}.k`, body);
    rawSeq = ack.seq;
    const at = await seen;
    rawArrived.delete(seq);
    return at - t0;
  };
  for (let i = 0; i < 20; i++) { await oneGranary('lat'); await oneRaw(); }
  const gl: number[] = [], rl: number[] = [];
  const p50s: number[] = [], p99s: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a: number[] = [], b: number[] = [];
    for (let i = 0; i < 100; i++) a.push(await oneGranary('lat'));
    for (let i = 0; i < 100; i++) b.push(await oneRaw());
    gl.push(...a); rl.push(...b);
    p50s.push(percentile(a, 50) / percentile(b, 50));
    p99s.push(percentile(a, 99) / percentile(b, 99));
  }
  row({ label: 'latency p50 (one item at a time)', value: fmtMs(percentile(gl, 50)), limitLabel: 'raw publish → consumer', limit: fmtMs(percentile(rl, 50)), ratios: p50s });
  row({ label: 'latency p99', value: fmtMs(percentile(gl, 99)), limitLabel: 'raw publish → consumer', limit: fmtMs(percentile(rl, 99)), ratios: p99s });

  // Items/s: a burst of N items on one stream, publish to the last delivery.
  const N = 2_000;
  const gr: number[] = [], rr: number[] = [], ratios: number[] = [], published: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const key = `burst${r}`;
    const before = delivered;
    let t0 = performance.now();
    let sent = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (sent < N) { sent++; await client.getStream('e2e', key).publish(PAYLOAD); } }));
    published.push(N / ((performance.now() - t0) / 1000));
    while (delivered - before < N) await new Promise((res) => setTimeout(res, 2));
    const g = N / ((performance.now() - t0) / 1000);
    const rawBefore = rawCount;
    t0 = performance.now();
    let rsent = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (rsent < N) { rsent++; await js.publish(`rawe2e.${cluster}.burst`, body); } }));
    while (rawCount - rawBefore < N) await new Promise((res) => setTimeout(res, 2));
    const raw = N / ((performance.now() - t0) / 1000);
    gr.push(g); rr.push(raw); ratios.push(g / raw);
  }
  row({ label: `delivery items/s (burst of ${N}, one stream)`, value: fmtRate(median(gr)), limitLabel: 'raw JetStream consumer', limit: fmtRate(median(rr)), ratios });
  figure('  of which publishing the burst (one key)', published, { fmt: fmtRate, note: 'appends to one key go one at a time: the bound of the row above' });

  // Items/s delivering a backlog: N items stored first, then a durable subscription from 1
  // (granary) or an ordered consumer from the start of the subject (raw).
  const bg: number[] = [], br: number[] = [], bratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const key = `backlog${r}`;
    let sent = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (sent < N) { sent++; await client.getStream('backlog', key).publish(PAYLOAD); } }));
    let rsent = 0;
    await Promise.all(Array.from({ length: 16 }, async () => { while (rsent < N) { rsent++; await js.publish(`rawe2e.${cluster}.backlog${r}`, body); } }));
    const before = backlogDelivered;
    let t0 = performance.now();
    await client.getGrain(BenchSink, `follower${r}`).follow(key);
    while (backlogDelivered - before < N) await new Promise((res) => setTimeout(res, 2));
    const g = N / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    const c = await js.consumers.get(`RAWE2E_${cluster}`, { filterSubjects: `rawe2e.${cluster}.backlog${r}` });
    let got = 0;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => { finish = resolve; });
    const it = await c.consume({ callback: () => { if (++got === N) finish(); } });
    await done;
    await it.close();
    const raw = N / ((performance.now() - t0) / 1000);
    bg.push(g); br.push(raw); bratios.push(g / raw);
  }
  row({ label: `delivery items/s (backlog of ${N}, durable sub)`, value: fmtRate(median(bg)), limitLabel: 'raw ordered consumer, stored', limit: fmtRate(median(br)), ratios: bratios });
  messages.stop();
  await client.close();
  await silo.stop();
  await streams.close();
  await nc.close();
}

async function idleSubscribers(): Promise<void> {
  heading('10 000 grains subscribed to 10 000 idle streams (memory provider)');
  const N = 10_000;
  const provider = memoryStreams();
  for (let i = 0; i < N; i++) {
    const grain = `IdleSubscriber/g${i}`;
    await provider.putSubscription({ namespace: 'idle', key: `s${i}`, id: `${grain}#onItem`, grain, method: 'onItem' }, 0, false);
  }
  const heap = () => { (globalThis as { gc?: () => void }).gc?.(); return process.memoryUsage().heapUsed; };
  const h0 = heap();
  const silo = await Silo.start({ grains: [IdleSubscriber], storage: memoryStorage(), streams: provider });
  await new Promise((r) => setTimeout(r, 1_500)); // the silo resumes every stream at start
  await silo.streams?.settled();
  const h1 = heap();
  const activations = silo.activationCount();
  figure('activations on the silo', [activations], { fmt: (x) => String(x), target: { atMost: 0 } });
  figure('silo heap growth (whole silo, after start)', [(h1 - h0) / 1024 / 1024], { fmt: (x) => `${x.toFixed(1)} MiB`, target: { atMost: 32 }, note: `${((h1 - h0) / N).toFixed(0)} B per subscription; consumers held: ${silo.streams?.counters.active}` });
  await silo.stop();
}

const server = await NatsServer.start();
try {
  await publishThroughput(server.url, `bpub${process.pid}`);
  await endToEnd(server.url, `be2e${process.pid}`);
  await idleSubscribers();
} finally {
  await server.stop();
}
