/**
 * Shared pieces of the NATS benchmarks (`bench/nats-*.ts`): a nats-server of our own, helper
 * processes forked from the benchmark's own file (so caller and callee are separate
 * processes, as between silos), and a closed-loop load generator that records latencies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Silo, dynamoStorage, memoryStorage, natsCluster, type GrainClass } from 'granary';
import { NatsServer } from '../test/support/nats-server.js';
import { median, percentile } from './support.js';

export { NatsServer };

export interface Worker<M = unknown> {
  child: ChildProcess;
  /** The first message the worker sent (its "ready"). */
  ready: M;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Forks `moduleUrl` (a benchmark's `import.meta.url`) with `role` and JSON `args`; waits for its first message. */
export async function forkRole<M>(moduleUrl: string, role: string, args: unknown): Promise<Worker<M>> {
  const child = fork(fileURLToPath(moduleUrl), [role, JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<M>((resolve, reject) => {
    child.once('message', (m) => resolve(m as M));
    child.once('exit', (code) => reject(new Error(`worker ${role} exited with ${code} before it was ready`)));
  });
  return {
    child,
    ready,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** In a forked worker: its role and arguments, or undefined in the main process. */
export function workerRole<A>(): { role: string; args: A } | undefined {
  const [role, json] = process.argv.slice(2);
  if (process.send === undefined || role === undefined) return undefined;
  return { role, args: JSON.parse(json ?? '{}') as A };
}

export interface LoadResult {
  /** Successful calls per second (failed ones are not work: they are counted in `errors`). */
  rate: number;
  /** Latency percentiles (ms) of the successful calls. */
  p50: number;
  p99: number;
  errors: number;
}

/**
 * `concurrency` loops each calling `call(worker)` back to back for `ms`; the rate and latency
 * percentiles (ms) of the calls that succeeded, and how many failed.
 */
export async function closedLoop(concurrency: number, ms: number, call: (worker: number) => Promise<unknown>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (;;) {
      const s = performance.now();
      if (s >= end) return;
      try {
        await call(w);
        latencies.push(performance.now() - s);
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = performance.now() - t0;
  const p = (q: number) => (latencies.length === 0 ? NaN : percentile(latencies, q));
  return { rate: latencies.length / (elapsed / 1000), p50: p(50), p99: p(99), errors };
}

export interface Alternated {
  /** Medians of each side's rounds; `errors` summed over them. */
  a: LoadResult;
  b: LoadResult;
  /** Every round of each side, in order. */
  roundsA: LoadResult[];
  roundsB: LoadResult[];
  /** Per-round ratios a/b of rates and of p50 latencies. */
  rateRatios: number[];
  p50Ratios: number[];
}

/** Runs `a` and `b` alternately `rounds` times: each side's medians, and the per-round ratios. */
export async function alternate(rounds: number, a: () => Promise<LoadResult>, b: () => Promise<LoadResult>): Promise<Alternated> {
  const ra: LoadResult[] = [];
  const rb: LoadResult[] = [];
  for (let i = 0; i < rounds; i++) {
    ra.push(await a());
    rb.push(await b());
  }
  const med = (xs: LoadResult[]): LoadResult => ({
    rate: median(xs.map((x) => x.rate)),
    p50: median(xs.map((x) => x.p50)),
    p99: median(xs.map((x) => x.p99)),
    errors: xs.reduce((n, x) => n + x.errors, 0),
  });
  return {
    a: med(ra),
    b: med(rb),
    roundsA: ra,
    roundsB: rb,
    rateRatios: ra.map((x, i) => x.rate / rb[i]!.rate),
    p50Ratios: ra.map((x, i) => x.p50 / rb[i]!.p50),
  };
}

export const ms = (x: number): string => `${x.toFixed(3)} ms`;

/** Where a benchmark's silos keep grain state: in memory (each process its own), or a DynamoDB table they share. */
export type BenchStorage = { kind: 'memory' } | { kind: 'dynamodb'; endpoint: string; table: string };

/**
 * In a forked worker: hosts `grains` on a silo of the NATS cluster `args` names, with the
 * storage it names (memory by default), runs `setup`, tells the parent it is ready, and exits
 * when the parent goes away.
 */
export async function serveSilo(grains: GrainClass[], args: { url: string; cluster: string; storage?: BenchStorage }, setup?: () => Promise<void>): Promise<void> {
  const storage = args.storage?.kind === 'dynamodb'
    ? dynamoStorage({ table: args.storage.table, endpoint: args.storage.endpoint, region: 'local' })
    : memoryStorage();
  const silo = await Silo.start({ grains, cluster: natsCluster({ servers: args.url, name: args.cluster }), storage });
  await setup?.();
  process.send!({ silo: silo.id });
  process.on('disconnect', () => process.exit(0));
}
