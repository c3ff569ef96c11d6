/**
 * What the dashboard shows, for the whole cluster, gathered by the silo that serves the page:
 * silos and their status, activations by type, call totals (the page turns them into calls/s
 * and error rate), p50/p99 latency per type and method, the slowest grains, recent errors.
 * Gathered at most once per `intervalMs` however many pages are open (one snapshot is shared).
 */
import type { SiloAdmin } from './admin.js';
import type { GrainErrorRecord } from './grain-error-log.js';
import { LATENCY_BUCKETS, type MethodStats, type SlowCall } from './metrics.js';

export interface DashboardSnapshot {
  time: number;
  /** The silo that serves this page. */
  servedBy: string;
  silos: { id: string; status: string; activations: number | null }[];
  activationsByType: Record<string, number>;
  /** Calls that entered the cluster's silos (gateway and silo-to-silo), and how many failed, since they started. */
  calls: number;
  errors: number;
  latency: { type: string; method: string; count: number; errors: number; p50Ms: number | null; p99Ms: number | null }[];
  slowest: (SlowCall & { silo: string })[];
  recentErrors: (Omit<GrainErrorRecord, 'stack'> & { silo: string })[];
}

/** The upper bound (ms) of the bucket that holds quantile `q` of a histogram (bucket counts, not cumulative). */
export function quantileMs(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= rank) return i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i]! * 1000 : Infinity;
  }
  return null;
}

export class DashboardData {
  private last: { at: number; snapshot: Promise<DashboardSnapshot> } | undefined;
  constructor(private readonly admin: SiloAdmin, private readonly siloId: string, readonly intervalMs = 1_000) {}

  /** A snapshot no older than the interval (shared by every open page). */
  snapshot(): Promise<DashboardSnapshot> {
    const now = Date.now();
    if (this.last !== undefined && now - this.last.at < this.intervalMs * 0.9) return this.last.snapshot;
    const snapshot = this.gather();
    this.last = { at: now, snapshot };
    snapshot.catch(() => { if (this.last?.snapshot === snapshot) this.last = undefined; });
    return snapshot;
  }

  private async gather(): Promise<DashboardSnapshot> {
    const [silos, insights] = await Promise.all([this.admin.silos(), this.admin.insights()]);
    const activationsByType: Record<string, number> = {};
    for (const s of silos) for (const [type, n] of Object.entries(s.activationsByType ?? {})) activationsByType[type] = (activationsByType[type] ?? 0) + n;
    const methods = new Map<string, MethodStats>();
    let calls = 0;
    let errors = 0;
    const slowest: DashboardSnapshot['slowest'] = [];
    const recentErrors: DashboardSnapshot['recentErrors'] = [];
    for (const { silo, insights: i } of insights) {
      for (const m of i.calls) {
        calls += m.count;
        errors += m.errors;
        const id = `${m.type}\u0000${m.method}`;
        const into = methods.get(id);
        if (into === undefined) methods.set(id, { ...m, buckets: [...m.buckets] });
        else {
          into.count += m.count;
          into.errors += m.errors;
          m.buckets.forEach((n, b) => { into.buckets[b] = (into.buckets[b] ?? 0) + n; });
        }
      }
      for (const c of i.slowest) slowest.push({ ...c, silo });
      for (const e of i.errors) recentErrors.push({ ...e, silo });
    }
    return {
      time: Date.now(),
      servedBy: this.siloId,
      silos: silos.map((s) => ({ id: s.id, status: s.status, activations: s.activations })),
      activationsByType,
      calls,
      errors,
      latency: [...methods.values()]
        .sort((a, b) => b.count - a.count)
        .slice(0, 50)
        .map((m) => ({ type: m.type, method: m.method, count: m.count, errors: m.errors, p50Ms: quantileMs(m.buckets, 0.5), p99Ms: quantileMs(m.buckets, 0.99) })),
      slowest: slowest.sort((a, b) => b.seconds - a.seconds).slice(0, 10),
      recentErrors: recentErrors.sort((a, b) => b.time - a.time).slice(0, 20),
    };
  }
}
