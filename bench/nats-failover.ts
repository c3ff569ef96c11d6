/**
 * Failover time after SIGKILL: three silo processes, grains spread over them, a client in
 * this process calling every grain in a loop. A silo hosting some of them is SIGKILLed; for
 * each of its grains, the time from the kill to the first successful call (on another
 * silo) is recorded. A fresh silo process replaces the victim, and again: p50/p99 over all
 * kills and grains. Target (issue 3): p99 < 0.5 s. The limit beside it: how fast NATS says
 * "no responders" for the dead silo's subject, measured right after each kill.
 */
import { connect, type KV, type NatsConnection } from 'nats';
import { GrainClient, Grain } from 'granary';
import { grainKey } from '../silo/nats/names.js';
import { NatsServer, forkRole, ms, workerRole, type Worker, serveSilo } from './_nats-support.js';
import { heading, median, percentile } from './support.js';

export class Cell extends Grain<{ v: number }> {
  protected override initialState() { return { v: 0 }; }
  async touch(): Promise<number> { return ++this.state.v; }
}

const KILLS = Number(process.env.BENCH_KILLS ?? 12);
const KEYS = 24;

interface Args { url: string; cluster: string }

const worker = workerRole<Args>();
if (worker?.role === 'silo') {
  await serveSilo([Cell], worker.args);
} else if (worker === undefined) {
  await main();
}

async function main(): Promise<void> {
  const nats = await NatsServer.start();
  const cluster = 'bench-failover';
  const args: Args = { url: nats.url, cluster };
  const silos: Worker<{ silo: string }>[] = [];
  for (let i = 0; i < 3; i++) silos.push(await forkRole(import.meta.url, 'silo', args));
  const client = await GrainClient.connect({ nats: nats.url, cluster, responseTimeoutMs: 10_000 });
  const nc: NatsConnection = await connect({ servers: nats.url });
  const directory: KV = await nc.jetstream().views.kv(`granary-${cluster}-directory`, { bindOnly: true });
  const recoveries: number[] = [];
  const noResponders: number[] = [];
  let failedCalls = 0;
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const keys = Array.from({ length: KEYS }, (_, i) => `k${kill}-${i}`);
      for (const k of keys) await client.getGrain<Cell>('Cell', k).touch();
      // The victim: the silo hosting most of this round's grains.
      const owner = new Map<string, string>();
      for (const k of keys) owner.set(k, ((await directory.get(grainKey(`Cell/${k}`)))!.json() as { silo: string }).silo);
      const counts = silos.map((s) => keys.filter((k) => owner.get(k) === s.ready.silo).length);
      const victim = silos[counts.indexOf(Math.max(...counts))]!;
      const victimKeys = keys.filter((k) => owner.get(k) === victim.ready.silo);

      // One caller loop per grain, back to back.
      let killedAt = Infinity;
      const firstSuccess = new Map<string, number>();
      let running = true;
      const loops = keys.map(async (k) => {
        while (running) {
          const started = performance.now();
          try {
            await client.getGrain<Cell>('Cell', k).touch();
            const now = performance.now();
            // Only calls that started after the kill count (a reply already on its way does not).
            if (started > killedAt && !firstSuccess.has(k)) firstSuccess.set(k, now - killedAt);
          } catch {
            failedCalls++;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 300));
      killedAt = performance.now();
      await victim.kill('SIGKILL');
      noResponders.push(await timeToNoResponders(nc, `granary.${cluster}.silo.${victim.ready.silo}`, killedAt));
      const deadline = performance.now() + 10_000;
      while (victimKeys.some((k) => !firstSuccess.has(k)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      running = false;
      await Promise.all(loops);
      for (const k of victimKeys) recoveries.push(firstSuccess.get(k) ?? Infinity);
      silos.splice(silos.indexOf(victim), 1);
      silos.push(await forkRole(import.meta.url, 'silo', args));
    }
    heading(`failover after SIGKILL: time from kill to the first successful call, per grain of the killed silo (${KILLS} kills, ${recoveries.length} grains)`);
    console.log(`granary first success after kill   p50 ${ms(median(recoveries))}   p99 ${ms(percentile(recoveries, 99))}   max ${ms(Math.max(...recoveries))}   (target p99 < 500 ms: ${percentile(recoveries, 99) < 500 ? 'met' : 'NOT met'})`);
    console.log(`limit: NATS "no responders" after kill p50 ${ms(median(noResponders))}   p99 ${ms(percentile(noResponders, 99))}`);
    console.log(`ratio p50 ${(median(recoveries) / median(noResponders)).toFixed(1)}×; calls that failed (in flight on the killed silo): ${failedCalls}`);
  } finally {
    await nc.close();
    await client.close();
    await Promise.all(silos.map((s) => s.kill('SIGTERM')));
    await nats.stop();
  }
}

/** Time from `since` until a request to `subject` gets "no responders" (the server saw the process die). */
async function timeToNoResponders(nc: NatsConnection, subject: string, since: number): Promise<number> {
  for (;;) {
    try {
      await nc.request(subject, undefined, { timeout: 5 });
    } catch (err) {
      if ((err as { code?: string }).code === '503') return performance.now() - since;
    }
  }
}
