/**
 * Silo metrics in the Prometheus text format (version 0.0.4): calls by source, type, method
 * and outcome, a call latency histogram, storage errors, and — read from the catalog when
 * scraped — activations by type and activation/deactivation totals.
 *
 * Recording is a few map lookups, and only on the gateway and on calls arriving from other
 * silos: the local in-process call path records nothing. No Node-only imports, so a Worker
 * can render the same text.
 */
import type { StorageProvider } from '../runtime/storage.js';

/** Where a call entered this silo. */
export type CallSource = 'gateway' | 'inbound';

/** Upper bounds (seconds) of the latency histogram's buckets. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Label value for names a caller made up (unknown type or method): keeps label sets bounded. */
export const OTHER = '_other';

interface CallSeries {
  labels: string;
  count: number;
}

/** Everything recorded for one source × type × method: counts by outcome, and latency. */
interface MethodSeries {
  labels: string;
  outcomes: Map<string, CallSeries>;
  buckets: number[];
  sum: number;
  count: number;
}

/** What the metrics read from the silo when scraped. */
export interface MetricsSource {
  activationsByType(): Map<string, number>;
  activationsTotal(): number;
  deactivationsTotal(): number;
  ready(): boolean;
  /** Overload protection: activations shed, calls refused, activations starting and waiting (silos only). */
  overload?(): { shed: number; refused: number; starting: number; waiting: number };
  /** Requests this silo sent to other silos and awaits (transports that count them: NATS). */
  transportInFlight?(): number | undefined;
  /** Durable reminders this silo fires (silos with a reminder service only). */
  reminders?(): { held: number; due: number; fired: number; late: number; failed: number; gaveUp: number } | undefined;
  /** Stream deliveries of this silo (silos with a stream service only). */
  streams?(): { delivered: number; retried: number; skipped: number; missed: number; active: number } | undefined;
}

/** One type × method's calls (all sources together), as the dashboard reads them. */
export interface MethodStats {
  type: string;
  method: string;
  count: number;
  errors: number;
  /** Per bucket of `LATENCY_BUCKETS` (not cumulative), then the count past the last bound. */
  buckets: number[];
}

/** A slow call the gateway saw: which grain, and how long it took. */
export interface SlowCall {
  type: string;
  key: string;
  method: string;
  seconds: number;
  time: number;
}

/** How many slowest calls are kept, and for how long one stays among them. */
const SLOWEST_KEPT = 10;
const SLOWEST_WINDOW_MS = 60_000;

export class SiloMetrics {
  /** The slowest gateway calls of the current and previous window (newest window first). */
  private slowest: SlowCall[] = [];
  private previousSlowest: SlowCall[] = [];
  private slowestSince = Date.now();
  /** source → type → method → series: nested maps, so recording builds no strings. */
  private readonly series = new Map<string, Map<string, Map<string, MethodSeries>>>();
  private readonly storageErrors = new Map<string, number>();
  private storageConflicts = 0;
  /** operation → latency histogram of storage operations (successful or not). */
  private readonly storageLatency = new Map<string, { buckets: number[]; sum: number; count: number }>();
  private readonly startedAt = Date.now();

  /** Counts one finished call; unknown names are folded into `_other`. */
  recordCall(source: CallSource, type: string, method: string, outcome: string, seconds: number): void {
    if (outcome === 'grain_not_found' || outcome === 'not_found') type = method = OTHER;
    else if (outcome === 'method_not_found') method = OTHER;
    let byType = this.series.get(source);
    if (byType === undefined) this.series.set(source, (byType = new Map()));
    let byMethod = byType.get(type);
    if (byMethod === undefined) byType.set(type, (byMethod = new Map()));
    let m = byMethod.get(method);
    if (m === undefined) {
      m = { labels: `source="${esc(source)}",type="${esc(type)}",method="${esc(method)}"`, outcomes: new Map(), buckets: new Array(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 };
      byMethod.set(method, m);
    }
    let c = m.outcomes.get(outcome);
    if (c === undefined) {
      c = { labels: `${m.labels},outcome="${esc(outcome)}"`, count: 0 };
      m.outcomes.set(outcome, c);
    }
    c.count++;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) { m.buckets[i]!++; break; }
    m.sum += seconds;
    m.count++;
  }

  private *allSeries(): Iterable<MethodSeries> {
    for (const byType of this.series.values()) for (const byMethod of byType.values()) yield* byMethod.values();
  }

  /** A storage operation failed (other than a lost optimistic-concurrency race). */
  recordStorageError(operation: string): void {
    this.storageErrors.set(operation, (this.storageErrors.get(operation) ?? 0) + 1);
  }

  /** How long a storage operation took (seconds), whatever its outcome. */
  recordStorageLatency(operation: string, seconds: number): void {
    let h = this.storageLatency.get(operation);
    if (h === undefined) this.storageLatency.set(operation, (h = { buckets: new Array(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) { h.buckets[i]!++; break; }
    h.sum += seconds;
    h.count++;
  }

  /** A conditional write lost its race (`InconsistentStateError`): expected under contention. */
  recordStorageConflict(): void {
    this.storageConflicts++;
  }

  /**
   * Notes a gateway call's duration by grain, for the dashboard's slowest grains: the slowest
   * calls of the last one to two minutes, a few comparisons per call.
   */
  recordGrainLatency(type: string, key: string, method: string, seconds: number): void {
    const now = Date.now();
    if (now - this.slowestSince > SLOWEST_WINDOW_MS) {
      this.previousSlowest = this.slowest;
      this.slowest = [];
      this.slowestSince = now;
    }
    const list = this.slowest;
    if (list.length === SLOWEST_KEPT && seconds <= list[list.length - 1]!.seconds) return;
    const at = list.findIndex((c) => c.seconds < seconds);
    list.splice(at === -1 ? list.length : at, 0, { type, key, method, seconds, time: now });
    if (list.length > SLOWEST_KEPT) list.pop();
  }

  /** The slowest recent gateway calls, slowest first. */
  slowestCalls(): SlowCall[] {
    const byGrain = new Map<string, SlowCall>();
    for (const c of [...this.slowest, ...this.previousSlowest]) {
      const id = `${c.type}/${c.key}/${c.method}`;
      if ((byGrain.get(id)?.seconds ?? -1) < c.seconds) byGrain.set(id, c);
    }
    return [...byGrain.values()].sort((a, b) => b.seconds - a.seconds).slice(0, SLOWEST_KEPT);
  }

  /** Calls by type and method, every source together (the dashboard's latency and error rate). */
  methodStats(): MethodStats[] {
    const merged = new Map<string, MethodStats>();
    for (const byType of this.series.values()) {
      for (const [type, byMethod] of byType) {
        for (const [method, m] of byMethod) {
          const id = `${type}\u0000${method}`;
          let s = merged.get(id);
          if (s === undefined) merged.set(id, (s = { type, method, count: 0, errors: 0, buckets: new Array(LATENCY_BUCKETS.length + 1).fill(0) }));
          s.count += m.count;
          for (const [outcome, c] of m.outcomes) if (outcome !== 'ok') s.errors += c.count;
          let inBuckets = 0;
          for (let i = 0; i < LATENCY_BUCKETS.length; i++) { s.buckets[i]! += m.buckets[i]!; inBuckets += m.buckets[i]!; }
          s.buckets[LATENCY_BUCKETS.length]! += m.count - inBuckets;
        }
      }
    }
    return [...merged.values()];
  }

  /** Total calls recorded for a source (tests, logs). */
  callCount(source?: CallSource): number {
    let n = 0;
    for (const [src, byType] of this.series) {
      if (source !== undefined && src !== source) continue;
      for (const byMethod of byType.values()) for (const m of byMethod.values()) n += m.count;
    }
    return n;
  }

  /** The Prometheus text exposition. */
  render(source: MetricsSource): string {
    const out: string[] = [];
    out.push('# HELP granary_calls_total Grain calls that entered this silo, by entry (gateway, inbound from the cluster), type, method and outcome (ok or the error code).');
    out.push('# TYPE granary_calls_total counter');
    for (const m of this.allSeries()) for (const c of m.outcomes.values()) out.push(`granary_calls_total{${c.labels}} ${c.count}`);

    out.push('# HELP granary_call_duration_seconds Time from receiving a call to sending its response.');
    out.push('# TYPE granary_call_duration_seconds histogram');
    for (const h of this.allSeries()) {
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += h.buckets[i]!;
        out.push(`granary_call_duration_seconds_bucket{${h.labels},le="${LATENCY_BUCKETS[i]}"} ${cumulative}`);
      }
      out.push(`granary_call_duration_seconds_bucket{${h.labels},le="+Inf"} ${h.count}`);
      out.push(`granary_call_duration_seconds_sum{${h.labels}} ${h.sum}`);
      out.push(`granary_call_duration_seconds_count{${h.labels}} ${h.count}`);
    }

    out.push('# HELP granary_activations Live grain activations on this silo, by type.');
    out.push('# TYPE granary_activations gauge');
    for (const [type, n] of source.activationsByType()) out.push(`granary_activations{type="${esc(type)}"} ${n}`);

    out.push('# HELP granary_activations_total Activations created on this silo since it started.');
    out.push('# TYPE granary_activations_total counter');
    out.push(`granary_activations_total ${source.activationsTotal()}`);
    out.push('# HELP granary_deactivations_total Activations deactivated on this silo since it started.');
    out.push('# TYPE granary_deactivations_total counter');
    out.push(`granary_deactivations_total ${source.deactivationsTotal()}`);
    const reminders = source.reminders?.();
    if (reminders !== undefined) {
      out.push('# HELP granary_reminders_held Reminders of the partitions this silo owns that are due soon, held in memory.');
      out.push('# TYPE granary_reminders_held gauge');
      out.push(`granary_reminders_held ${reminders.held}`);
      out.push('# HELP granary_reminder_firings_total Reminder firings on this silo: due (started), fired (the grain handled it), failed (it threw or was unreachable; retried), gave_up (retries used up).');
      out.push('# TYPE granary_reminder_firings_total counter');
      out.push(`granary_reminder_firings_total{outcome="due"} ${reminders.due}`);
      out.push(`granary_reminder_firings_total{outcome="fired"} ${reminders.fired}`);
      out.push(`granary_reminder_firings_total{outcome="failed"} ${reminders.failed}`);
      out.push(`granary_reminder_firings_total{outcome="gave_up"} ${reminders.gaveUp}`);
      out.push('# HELP granary_reminder_late_firings_total Reminder firings that started more than one poll period after their due time.');
      out.push('# TYPE granary_reminder_late_firings_total counter');
      out.push(`granary_reminder_late_firings_total ${reminders.late}`);
    }
    const streams = source.streams?.();
    if (streams !== undefined) {
      out.push('# HELP granary_stream_deliveries_total Stream items this silo delivered: delivered (the subscriber handled it), retried (an attempt failed), skipped (retries used up; logged), missed (dropped by retention first).');
      out.push('# TYPE granary_stream_deliveries_total counter');
      out.push(`granary_stream_deliveries_total{outcome="delivered"} ${streams.delivered}`);
      out.push(`granary_stream_deliveries_total{outcome="retried"} ${streams.retried}`);
      out.push(`granary_stream_deliveries_total{outcome="skipped"} ${streams.skipped}`);
      out.push(`granary_stream_deliveries_total{outcome="missed"} ${streams.missed}`);
      out.push('# HELP granary_stream_consumers_active Stream subscribers this silo is delivering to now.');
      out.push('# TYPE granary_stream_consumers_active gauge');
      out.push(`granary_stream_consumers_active ${streams.active}`);
    }
    const overload = source.overload?.();
    if (overload !== undefined) {
      out.push('# HELP granary_activations_shed_total Idle activations deactivated because the silo held its maximum.');
      out.push('# TYPE granary_activations_shed_total counter');
      out.push(`granary_activations_shed_total ${overload.shed}`);
      out.push('# HELP granary_overload_refused_total Calls refused because the silo could take no new activation (503, retry-after).');
      out.push('# TYPE granary_overload_refused_total counter');
      out.push(`granary_overload_refused_total ${overload.refused}`);
      out.push('# HELP granary_activations_starting Activations starting now (the bulkhead) and waiting to start.');
      out.push('# TYPE granary_activations_starting gauge');
      out.push(`granary_activations_starting{state="running"} ${overload.starting}`);
      out.push(`granary_activations_starting{state="waiting"} ${overload.waiting}`);
    }

    out.push('# HELP granary_storage_errors_total Failed storage operations (reads, writes, clears), by operation.');
    out.push('# TYPE granary_storage_errors_total counter');
    for (const op of ['read', 'write', 'clear']) out.push(`granary_storage_errors_total{operation="${op}"} ${this.storageErrors.get(op) ?? 0}`);
    out.push('# HELP granary_storage_conflicts_total Conditional writes that lost to a newer version (InconsistentStateError).');
    out.push('# TYPE granary_storage_conflicts_total counter');
    out.push(`granary_storage_conflicts_total ${this.storageConflicts}`);

    out.push('# HELP granary_storage_operation_duration_seconds Time storage operations took (reads, writes, clears), failed ones included.');
    out.push('# TYPE granary_storage_operation_duration_seconds histogram');
    for (const [op, h] of this.storageLatency) {
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += h.buckets[i]!;
        out.push(`granary_storage_operation_duration_seconds_bucket{operation="${esc(op)}",le="${LATENCY_BUCKETS[i]}"} ${cumulative}`);
      }
      out.push(`granary_storage_operation_duration_seconds_bucket{operation="${esc(op)}",le="+Inf"} ${h.count}`);
      out.push(`granary_storage_operation_duration_seconds_sum{operation="${esc(op)}"} ${h.sum}`);
      out.push(`granary_storage_operation_duration_seconds_count{operation="${esc(op)}"} ${h.count}`);
    }
    const inFlight = source.transportInFlight?.();
    if (inFlight !== undefined) {
      out.push('# HELP granary_transport_requests_in_flight Requests this silo sent to other silos (calls, the runtime\'s own messages) awaiting their answer.');
      out.push('# TYPE granary_transport_requests_in_flight gauge');
      out.push(`granary_transport_requests_in_flight ${inFlight}`);
    }

    out.push('# HELP granary_silo_ready 1 while the silo is joined and serving, 0 while starting or draining.');
    out.push('# TYPE granary_silo_ready gauge');
    out.push(`granary_silo_ready ${source.ready() ? 1 : 0}`);
    out.push('# HELP granary_silo_uptime_seconds Seconds since the metrics of this silo started.');
    out.push('# TYPE granary_silo_uptime_seconds gauge');
    out.push(`granary_silo_uptime_seconds ${(Date.now() - this.startedAt) / 1000}`);
    return out.join('\n') + '\n';
  }
}

/** Escapes a label value: backslash, double quote and newline. */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Outcome label of a settled call: `ok`, or the error's code. */
export function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : 'grain_error';
}

/**
 * For calls from other silos: the target type and method read from the start of the
 * message text, without decoding it (the router decodes it anyway). The envelope is built
 * with `k`, `target`, `method` first; anything else is counted under `_other`.
 */
const CALL_HEAD = /^\{"k":"call","target":"((?:[^"\\/]|\\.)*)\/(?:[^"\\]|\\.)*","method":"((?:[^"\\]|\\.)*)"/;

export function callHead(payload: string): { type: string; method: string } {
  const m = CALL_HEAD.exec(payload.length > 1024 ? payload.slice(0, 1024) : payload);
  if (m === null) return { type: OTHER, method: OTHER };
  return { type: unescapeJson(m[1]!), method: unescapeJson(m[2]!) };
}

function unescapeJson(s: string): string {
  if (!s.includes('\\')) return s;
  try { return JSON.parse(`"${s}"`) as string; } catch { return OTHER; }
}

/** Outcome of a reply text (`{"k":"ok"...}` or `{"k":"err","error":{"code":...`). */
export function replyOutcome(reply: string): string {
  if (reply.startsWith('{"k":"ok"')) return 'ok';
  const m = /^\{"k":"err","error":\{"code":"([a-z0-9_]{1,64})"/.exec(reply);
  return m === null ? 'grain_error' : m[1]!;
}

/**
 * Storage as the catalog sees it, counting failures into `metrics`. A proxy, so whatever
 * else a provider offers (its own methods, later additions to the port) passes through.
 */
export function countingStorage(inner: StorageProvider, metrics: SiloMetrics): StorageProvider {
  const count = (operation: string) => (err: unknown) => {
    if ((err as { code?: unknown } | null)?.code === 'inconsistent_state') metrics.recordStorageConflict();
    else metrics.recordStorageError(operation);
    throw err;
  };
  const timed = <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const done = () => metrics.recordStorageLatency(operation, (performance.now() - started) / 1000);
    return run().then((v) => { done(); return v; }, (err: unknown) => { done(); return count(operation)(err); });
  };
  const counted: Partial<StorageProvider> = {
    read: (id, stateName) => timed('read', () => inner.read(id, stateName)),
    write: (id, stateName, payload, etag) => timed('write', () => inner.write(id, stateName, payload, etag)),
    clear: (id, stateName, etag) => timed('clear', () => inner.clear(id, stateName, etag)),
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'read' || prop === 'write' || prop === 'clear') return counted[prop];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
