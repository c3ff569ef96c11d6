/**
 * A client's router: it hosts nothing, so a call goes to the silo the directory names, or
 * to any live silo hosting the type, which then places the grain.
 */
import { CallRouter, SiloUnavailableError, type PendingCall } from '../runtime/index.js';
import { waitTimer } from '../runtime/clock.js';

/**
 * How long a call waits for a live silo when the client knows none: membership can be empty
 * for a moment while silos announce themselves again (after a NATS server of the cluster died).
 */
const EMPTY_CLUSTER_WAIT_MS = 2_000;

export class ClientRouter extends CallRouter {
  /** Arguments always travel, so they are encoded anyway; this only fails early on what cannot. */
  protected prepareArgs(args: unknown[]): unknown[] {
    return args;
  }

  route(call: PendingCall): void {
    // A client's calls always travel, so the deadline is fixed when the call is made.
    call.remaining(this.clock.now());
    const cached = this.caller.cache.get(call.targetKey);
    if (cached !== undefined && this.connection.membership.isLive(cached)) {
      this.caller.send(call, cached, true);
      return;
    }
    this.connection.directory.lookup(call.target).then(
      (entry) => {
        if (entry !== undefined && this.connection.membership.isLive(entry.silo)) {
          this.caller.cache.set(call.targetKey, entry.silo);
          this.caller.send(call, entry.silo, true);
          return;
        }
        this.sendToAnySilo(call, false);
      },
      (err) => this.caller.unavailable(call, err),
    );
  }

  /** To any live silo hosting the type (which places the grain), waiting once for one to appear. */
  private sendToAnySilo(call: PendingCall, waited: boolean): void {
    let silo: string;
    try {
      silo = this.caller.anySiloFor(call.target.type).id;
    } catch (err) {
      if (waited || !(err instanceof SiloUnavailableError)) {
        call.reject(err);
        return;
      }
      let done = false;
      const retry = () => {
        if (done) return;
        done = true;
        off();
        if (!call.settled) this.sendToAnySilo(call, true);
      };
      const off = this.connection.membership.onChange((live) => { if (live.length > 0) retry(); });
      waitTimer(this.clock, retry, Math.min(EMPTY_CLUSTER_WAIT_MS, Math.max(1, call.remaining(this.clock.now()))));
      return;
    }
    this.caller.send(call, silo, false);
  }
}
