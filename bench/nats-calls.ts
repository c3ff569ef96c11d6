/**
 * Cross-silo grain calls over NATS beside the raw NATS limit, between the same two processes,
 * with the same payload sizes, at concurrency 1, 16 and 256:
 *  - Granary: silo A (this process, hosting no `Echo`) calls `Echo.echo(s)` on silo B (a
 *    forked process): codec, routing, transport, B's activation turn, and back;
 *  - raw: request/reply on plain NATS the fastest way (publish + one shared reply-inbox
 *    subscription with its own correlation map, and the same batching as Granary's
 *    transport: `_raw-nats-rpc.ts`), to a responder in process B answering with a reply as
 *    long as the grain's. Not `nc.request()` per call: that is ~4× slower at c256 (PERF-NOTES).
 * Targets (issue 3): throughput ≥ 1.0× raw at c256; p50 ≤ 1.25× raw at c1; each met only when
 * every round meets it. Failed calls are not counted in the rates; they are printed.
 */
import { connect, type NatsConnection } from 'nats';
import { Grain, Silo, memoryStorage, natsCluster } from 'granary';
import { encode } from 'granary/internal';
import { NatsServer, alternate, closedLoop, forkRole, ms, workerRole, serveSilo } from './_nats-support.js';
import { RawRpcClient, serveRawRpc } from './_raw-nats-rpc.js';
import { fmtRate, heading, spread, verdict } from './support.js';

export class Echo extends Grain {
  async echo(s: string): Promise<string> { return s; }
}
class Nothing extends Grain {}

const ARG = 'x'.repeat(64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_MS ?? 1000);

interface Args { url: string; cluster: string; requestBytes: number; replyBytes: number }

const worker = workerRole<Args>();
if (worker?.role === 'callee') {
  const { url, replyBytes } = worker.args;
  await serveSilo([Echo], worker.args, async () => {
    // The raw responder lives in the same process as the silo, replying with the same bytes.
    const nc = await connect({ servers: url });
    const reply = 'y'.repeat(replyBytes);
    serveRawRpc(nc, 'bench.raw', () => reply);
    await nc.flush();
  });
} else if (worker === undefined) {
  await main();
}

async function main(): Promise<void> {
  const nats = await NatsServer.start();
  const cluster = 'bench-calls';
  // What crosses the wire for one call and its reply, so raw carries the same bytes.
  const requestBytes = encode({ k: 'call', target: 'Echo/k0', method: 'echo', args: [ARG], timeout: 30000, hops: 0, placed: true }).length;
  const replyBytes = encode({ k: 'ok', value: ARG, host: '01JZZZZZZZZZZZZZZZZZZZZZZZ' }).length;
  const callee = await forkRole<{ silo: string }>(import.meta.url, 'callee', { url: nats.url, cluster, requestBytes, replyBytes } satisfies Args);
  const caller = await Silo.start({ grains: [Nothing], cluster: natsCluster({ servers: nats.url, name: cluster }), storage: memoryStorage() });
  const rawNc: NatsConnection = await connect({ servers: nats.url });
  const raw = new RawRpcClient(rawNc, 'bench.raw');
  const rawPayload = 'x'.repeat(requestBytes);
  try {
    const refs = Array.from({ length: 256 }, (_, i) => caller.getGrain<Echo>('Echo', `k${i}`));
    await Promise.all(refs.map((r) => r.echo(ARG))); // activate all on B
    for (let i = 0; i < 3; i++) await Promise.all(refs.map((r) => r.echo(ARG)));
    const hosted = caller.router.caller.cache.get('Echo/k0');
    if (hosted !== callee.ready.silo) throw new Error(`Echo/k0 is not on the callee silo (${hosted})`);

    heading(`cross-silo grain call vs raw NATS request/reply, same batching (${requestBytes} B request, ${replyBytes} B reply; ${ROUNDS} alternating ${MS} ms rounds; medians, ratios as median (min–max))`);
    console.log('conc   granary calls/s   p50        p99        | raw request/s     p50        p99        | rate ratio            p50 ratio');
    for (const c of [1, 16, 256]) {
      const r = await alternate(
        ROUNDS,
        () => closedLoop(c, MS, (w) => refs[w]!.echo(ARG)),
        () => closedLoop(c, MS, () => raw.request(rawPayload)),
      );
      const target = c === 256 ? `  rate ${verdict(r.rateRatios, { atLeast: 1 })}`
        : c === 1 ? `  p50 ${verdict(r.p50Ratios, { atMost: 1.25 })}` : '';
      console.log(
        `${String(c).padStart(4)}   ${fmtRate(r.a.rate).padStart(12)}   ${ms(r.a.p50).padStart(9)}  ${ms(r.a.p99).padStart(9)}  | ${fmtRate(r.b.rate).padStart(12)}   ${ms(r.b.p50).padStart(9)}  ${ms(r.b.p99).padStart(9)}  | ${spread(r.rateRatios).padEnd(21)} ${spread(r.p50Ratios)}${target}`,
      );
      console.log(`       errors (not in the rates): granary ${r.a.errors}, raw ${r.b.errors}`);
    }
  } finally {
    await rawNc.close();
    await caller.stop();
    await callee.kill('SIGTERM');
    await nats.stop();
  }
}
