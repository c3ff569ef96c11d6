/**
 * Names on the NATS server: the silo subjects, the KV buckets, and the KV keys of grains.
 * NATS subject tokens and KV keys have a restricted charset, so the cluster name is checked
 * and grain ids (any string, `/`, spaces and unicode included) are encoded.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError, type GrainId } from '../../runtime/index.js';

const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function checkClusterName(name: unknown): string {
  if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
    throw new InvalidArgumentError(
      `invalid NATS cluster name ${JSON.stringify(name)}: use 1-64 letters, digits, "-" or "_" (it becomes part of subjects and KV bucket names)`,
    );
  }
  return name;
}

/**
 * Who sends on a subject decides what the server lets through (deploy/nats/nats.conf):
 * clients publish only calls (`call.<silo>`, `gateway`) and pings and read only
 * `inbox.client.>`; silo-to-silo traffic (`internal.<silo>`), the KV buckets and the
 * JetStream API are the silos' own. Runtime messages (`$txn.*`) are accepted on the internal
 * subject only (or from a connection holding the cluster key).
 */
export interface ClusterNames {
  /** Every subject of the cluster starts with this (`granary.<cluster>`). */
  readonly prefix: string;
  /** Calls from clients to one silo. */
  callSubject(siloId: string): string;
  /** Calls from clients to any silo (a queue group): it places the grain or forwards the call. */
  readonly gatewaySubject: string;
  /** Silo-to-silo calls, runtime messages included: silos (and trusted clients) only. */
  internalSubject(siloId: string): string;
  /** Subject a silo answers pings on, until it has left (also while it drains). */
  pingSubject(siloId: string): string;
  /** Every reply subject a silo answers to starts with this (`granary.<cluster>.inbox.`). */
  readonly inboxPrefix: string;
  /** Reply subjects of a silo's connection (its calls, KV and JetStream API replies). */
  readonly siloInbox: string;
  /** Reply subjects of a client's connection. */
  readonly clientInbox: string;
  /** KV bucket of live silos. */
  readonly membershipBucket: string;
  /** KV bucket of the grain directory. */
  readonly directoryBucket: string;
}

export function clusterNames(cluster: string): ClusterNames {
  const prefix = `granary.${cluster}`;
  return {
    prefix,
    callSubject: (siloId) => `${prefix}.call.${siloId}`,
    gatewaySubject: `${prefix}.gateway`,
    internalSubject: (siloId) => `${prefix}.internal.${siloId}`,
    pingSubject: (siloId) => `${prefix}.ping.${siloId}`,
    inboxPrefix: `${prefix}.inbox.`,
    siloInbox: `${prefix}.inbox.silo`,
    clientInbox: `${prefix}.inbox.client`,
    membershipBucket: `granary-${cluster}-silos`,
    directoryBucket: `granary-${cluster}-directory`,
  };
}

/** Silo ids are ulids; anything else could break a subject, so it is refused. */
export function checkSiloId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) throw new InvalidArgumentError(`silo id ${JSON.stringify(id)} cannot be a NATS subject token`);
  return id;
}

/** Longest base64url key used as is; longer ids are hashed (NATS control lines are bounded). */
const MAX_PLAIN_KEY = 512;

/**
 * The directory key of a grain: base64url of `"type/key"` (its charset is a subset of what
 * KV keys allow, and it is reversible); a very long id becomes `sha256.<hex>` — base64url
 * has no `.`, so the two forms never collide.
 */
export function grainKey(id: GrainId | string): string {
  const text = String(id);
  const plain = Buffer.from(text, 'utf8').toString('base64url');
  if (plain.length > 0 && plain.length <= MAX_PLAIN_KEY) return plain;
  return 'sha256.' + createHash('sha256').update(text, 'utf8').digest('hex');
}
