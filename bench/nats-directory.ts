/**
 * Cold activation through the NATS directory: first calls (each one an activation: the
 * client's directory lookup, placement, the silo's atomic register in the JetStream KV
 * directory, activation) across two silo processes, beside the raw JetStream KV `create` rate
 * from this process, at the same concurrency — the limit for registering. A first call costs
 * at least two KV round trips (lookup + create) where raw costs one. Each round's grains are
 * checked to be in the directory bucket afterwards. Ratios: median (min–max) of the rounds;
 * failed calls are not counted in the rates.
 */
import { connect } from 'nats';
import { clusterNames, grainKey } from '../silo/nats/names.js';
import { GrainClient, Grain } from 'granary';
import { NatsServer, alternate, closedLoop, forkRole, ms, workerRole, serveSilo } from './_nats-support.js';
import { fmtRate, heading, spread } from './support.js';

export class Cell extends Grain<{ v: number }> {
  protected override initialState() { return { v: 0 }; }
  async touch(): Promise<number> { return ++this.state.v; }
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_MS ?? 1000);

interface Args { url: string; cluster: string }

const worker = workerRole<Args>();
if (worker?.role === 'silo') {
  await serveSilo([Cell], worker.args);
} else if (worker === undefined) {
  await main();
}

async function main(): Promise<void> {
  const nats = await NatsServer.start();
  const cluster = 'bench-directory';
  const silos = await Promise.all([0, 1].map(() => forkRole(import.meta.url, 'silo', { url: nats.url, cluster } satisfies Args)));
  const client = await GrainClient.connect({ nats: nats.url, cluster });
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const kv = await nc.jetstream().views.kv('bench-raw-create', { history: 1 });
  try {
    let seq = 0;
    // Warm both paths (connections, buckets, JIT).
    await closedLoop(16, 300, () => client.getGrain<Cell>('Cell', `warm-${seq++}`).touch());
    await closedLoop(16, 300, () => kv.create(`warm-${seq++}`, 'x'));

    heading(`first call (activation, registered in the NATS KV directory) across 2 silo processes vs raw KV create (${ROUNDS} alternating ${MS} ms rounds; medians)`);
    console.log('conc   activations/s   p50        p99        | KV create/s     p50        p99        | rate ratio: median (min–max)');
    const directory = await nc.jetstream().views.kv(clusterNames(cluster).directoryBucket, { bindOnly: true });
    for (const c of [1, 16, 64]) {
      const activated: string[] = [];
      const r = await alternate(
        ROUNDS,
        () => closedLoop(c, MS, async () => { const k = `c${c}-${seq++}`; await client.getGrain<Cell>('Cell', k).touch(); activated.push(k); }),
        () => closedLoop(c, MS, () => kv.create(`c${c}-${seq++}`, JSON.stringify({ silo: '01JZZZZZZZZZZZZZZZZZZZZZZZ', activation: '1' }))),
      );
      console.log(`${String(c).padStart(4)}   ${fmtRate(r.a.rate).padStart(12)}   ${ms(r.a.p50).padStart(9)}  ${ms(r.a.p99).padStart(9)}  | ${fmtRate(r.b.rate).padStart(12)}   ${ms(r.b.p50).padStart(9)}  ${ms(r.b.p99).padStart(9)}  | ${spread(r.rateRatios)}`);
      console.log(`       errors (not in the rates): activations ${r.a.errors}, raw ${r.b.errors}`);
      // Every grain activated was registered in the directory (a sample, to keep it quick).
      for (const k of activated.filter((_, i) => i % Math.max(1, Math.floor(activated.length / 50)) === 0)) {
        const e = await directory.get(grainKey(`Cell/${k}`));
        if (e?.operation !== 'PUT') throw new Error(`Cell/${k} answered but is not in the NATS directory`);
      }
    }
  } finally {
    await nc.close();
    await client.close();
    await Promise.all(silos.map((s) => s.kill('SIGTERM')));
    await nats.stop();
  }
}
