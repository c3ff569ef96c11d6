/**
 * Membership and directory of a client routed through the gateway. Its credential may read
 * neither bucket (deploy/nats/nats.conf), so it knows one "silo", `ANY_SILO` — the gateway
 * queue group, which stands for every silo and so hosts every type: the silo that takes a call
 * places the grain or forwards the call, and its reply names the silo that ran it, where the
 * caller sends the grain's next calls (the caller's cache). A silo that a call finds gone
 * ("no responders", confirmed by a ping) is not used again for a while; its grains' calls go
 * back to the gateway.
 */
import {
  InvalidArgumentError, SiloUnavailableError,
  type Directory, type DirectoryEntry, type Membership, type SiloInfo,
} from '../../runtime/index.js';
import { ANY_SILO, type NatsTransport } from './transport.js';

/** The types the gateway hosts: all of them. */
class EveryType extends Array<string> {
  override includes(): boolean {
    return true;
  }
}

const GATEWAY: SiloInfo = Object.freeze({ id: ANY_SILO, types: Object.freeze(new EveryType()), startedAt: 0, status: 'active' });
const LIVE: readonly SiloInfo[] = Object.freeze([GATEWAY]);

/** Successive pings of a suspected silo (as in membership.ts). */
const PING_TIMEOUTS_MS = [100, 250, 500];
/** Silos found gone are remembered this long, and at most this many. */
const GONE_FOR_MS = 60_000;
const MAX_GONE = 10_000;

export class GatewayMembership implements Membership {
  private readonly gone = new Map<string, number>();
  private readonly listeners = new Set<(live: readonly SiloInfo[]) => void>();
  private readonly checking = new Set<string>();
  private stopped = false;
  /** False while NATS is down: no verdicts then. */
  connected = true;

  constructor(private readonly transport: NatsTransport) {}

  live(): readonly SiloInfo[] {
    return LIVE;
  }

  isLive(siloId: string): boolean {
    const at = this.gone.get(siloId);
    if (at === undefined) return true;
    if (performance.now() - at < GONE_FOR_MS) return false;
    this.gone.delete(siloId);
    return true;
  }

  onChange(listener: (live: readonly SiloInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  suspect(siloId: string): void {
    if (!this.connected || this.stopped || siloId === ANY_SILO || !this.isLive(siloId) || this.checking.has(siloId)) return;
    this.checking.add(siloId);
    void this.check(siloId).finally(() => this.checking.delete(siloId));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Only "no responders" on its ping subject is a verdict (it keeps that subject while it drains). */
  private async check(siloId: string): Promise<void> {
    for (const timeout of PING_TIMEOUTS_MS) {
      if (!this.connected || this.stopped) return;
      const pingedAt = performance.now();
      const result = await this.transport.ping(siloId, timeout);
      if (result === 'alive') return;
      if (result === 'gone') {
        if (this.connected && !this.stopped) this.markGone(siloId, pingedAt);
        return;
      }
    }
  }

  private markGone(siloId: string, pingedAt: number): void {
    if (this.gone.size >= MAX_GONE) this.gone.delete(this.gone.keys().next().value!);
    this.gone.set(siloId, performance.now());
    // NATS answers in order: calls sent before the ping's "no responders" were delivered and will not be answered.
    this.transport.failSilo(siloId, new SiloUnavailableError(`silo ${siloId} is gone (it no longer answers pings) while the call was in flight; it may or may not have run`), pingedAt);
    for (const l of [...this.listeners]) {
      try {
        l(LIVE);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}

/** The directory as a gateway-routed client sees it: empty (the silos look grains up). */
export class GatewayDirectory implements Directory {
  lookup(): Promise<DirectoryEntry | undefined> {
    return Promise.resolve(undefined);
  }

  register(): Promise<DirectoryEntry> {
    return Promise.reject(new InvalidArgumentError('a client routed through the gateway hosts no grains and registers none'));
  }

  unregister(): Promise<void> {
    return Promise.resolve();
  }
}
