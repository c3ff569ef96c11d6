/**
 * The record of client calls a TestCluster keeps (`cluster.history`) and `checkLinearizable`
 * reads. Times are the cluster clock's milliseconds; with a seed that is simulated time.
 */

/** One finished client call. `ok: false` calls carry `error` and may or may not have taken effect. */
export interface HistoryEvent {
  /** Which client made the call (`"client"` for `cluster.client`, or the name given to `cluster.newClient(name)`). */
  client: string;
  /** The grain type, e.g. `"Counter"`. */
  grain: string;
  /** The grain key. */
  key: string;
  method: string;
  args: unknown[];
  ok: boolean;
  /** The call's result when `ok`. */
  value?: unknown;
  /** What the call failed with when not `ok`. */
  error?: { name: string; message: string };
  /** When the call was made and when its outcome reached the client (clock milliseconds). */
  start: number;
  end: number;
}

/** A short one-line form of a call, for explanations and failure messages. */
export function describeEvent(e: HistoryEvent): string {
  const args = e.args.map(short).join(', ');
  const outcome = e.ok ? short(e.value) : `✗ ${e.error?.name ?? 'Error'}`;
  return `${e.client} ${e.method}(${args}) → ${outcome}  [${e.start}..${e.end}]`;
}

export function short(v: unknown): string {
  if (v === undefined) return 'undefined';
  let s: string;
  try { s = JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
