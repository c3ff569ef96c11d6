/**
 * The state of the NATS connection as the cluster pieces see it: up or down. A KV operation
 * in flight when NATS goes away fails at once (its reply would never come; the client would
 * only give up after its timeout).
 */
import { SiloUnavailableError } from '../../runtime/index.js';

export class Link {
  connected = true;
  private readonly inflight = new Set<(err: Error) => void>();
  private readonly waiting = new Set<() => void>();

  lost(): void {
    this.connected = false;
    const err = new SiloUnavailableError('the NATS connection was lost during the operation; retry shortly');
    const pending = [...this.inflight];
    this.inflight.clear();
    for (const fail of pending) fail(err);
  }

  restored(): void {
    this.connected = true;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const wake of waiting) wake();
  }

  /**
   * Resolves `true` once the connection is back, or `false` after `ms`. An operation that has
   * not been sent yet can wait out a short reconnect (a clustered NATS moves a client to a
   * surviving server in tens of milliseconds) instead of failing a call that never left.
   */
  whenConnected(ms: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(timer); resolve(true); };
      const timer = setTimeout(() => { this.waiting.delete(wake); resolve(this.connected); }, ms);
      timer.unref?.();
      this.waiting.add(wake);
    });
  }

  /** `op`'s outcome, unless the connection drops first. */
  guard<T>(op: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.inflight.add(reject);
      op.then(
        (v) => { this.inflight.delete(reject); resolve(v); },
        (e) => { this.inflight.delete(reject); reject(e); },
      );
    });
  }
}
