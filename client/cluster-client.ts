/**
 * A client's router: it hosts nothing, so a call goes to the silo the directory names, or
 * to any live silo hosting the type, which then places the grain.
 */
import { CallRouter, type PendingCall } from '../runtime/index.js';

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
        try {
          this.caller.send(call, this.caller.anySiloFor(call.target.type).id, false);
        } catch (err) {
          call.reject(err);
        }
      },
      (err) => call.reject(err),
    );
  }
}
