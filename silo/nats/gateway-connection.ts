/**
 * A client's connection routed through the gateway (see gateway.ts): a transport on the
 * client subjects, no KV, no JetStream. It needs only the client permissions of
 * deploy/nats/nats.conf: publish calls and pings, read its own inbox.
 */
import { Events, type NatsConnection } from 'nats';
import { SiloUnavailableError, type Clock, type ClusterConnection } from '../../runtime/index.js';
import type { Logger } from '../log.js';
import type { FrameSigner } from './frame-auth.js';
import { GatewayDirectory, GatewayMembership } from './gateway.js';
import type { ClusterNames } from './names.js';
import type { ResolvedTimings } from './options.js';
import { NatsTransport } from './transport.js';

export interface GatewayConnectionParts {
  nc: NatsConnection;
  names: ClusterNames;
  timings: ResolvedTimings;
  clock: Clock;
  logger: Logger;
  signer: FrameSigner | undefined;
}

export class NatsGatewayConnection implements ClusterConnection {
  readonly membership: GatewayMembership;
  readonly directory = new GatewayDirectory();
  readonly transport: NatsTransport;
  readonly siloId = undefined;
  private finished = false;

  constructor(private readonly parts: GatewayConnectionParts) {
    const { nc, names, timings, clock, signer } = parts;
    this.transport = new NatsTransport({
      nc, names, clock, signer,
      batching: timings.batching,
      probeAfterMs: timings.probeAfterMs,
      onSlow: (silo) => this.membership.suspect(silo),
      route: 'client',
      inbox: names.clientInbox,
    });
    this.membership = new GatewayMembership(this.transport);
    void this.followStatus();
  }

  async join(): Promise<void> {}

  async setStatus(): Promise<void> {}

  async leave(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.membership.stop();
    this.transport.close();
    await this.parts.nc.close().catch(() => undefined);
  }

  /** While NATS is down calls fail fast and nobody is found gone; calls in flight fail at once. */
  private async followStatus(): Promise<void> {
    const { nc, logger } = this.parts;
    for await (const s of nc.status()) {
      if (this.finished) break;
      if (s.type === Events.Disconnect) {
        logger.warn('NATS connection lost; reconnecting', { server: String(s.data) });
        this.down(new SiloUnavailableError('the NATS connection was lost while the call was in flight; it may or may not have run'));
      } else if (s.type === Events.Reconnect) {
        logger.warn('NATS connection restored', { server: String(s.data) });
        this.transport.connected = true;
        this.membership.connected = true;
      }
    }
    if (!this.finished) {
      logger.error('the NATS connection closed and will not reconnect; this client is cut off from the cluster');
      this.down(new SiloUnavailableError('the NATS connection closed while the call was in flight; it may or may not have run', { data: { closed: true } }));
    }
  }

  private down(err: Error): void {
    this.transport.connected = false;
    this.membership.connected = false;
    this.transport.failAll(err);
  }
}
