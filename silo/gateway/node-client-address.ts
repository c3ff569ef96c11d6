/**
 * The client's address on Node: the socket's peer, unless that peer is a trusted proxy; then
 * `x-forwarded-for` is read right to left, skipping trusted hops, and the first untrusted hop
 * is the client (proxy-addr). A client can prepend whatever it likes to `x-forwarded-for`;
 * only what the trusted proxies appended is believed.
 */
import type { HttpBindings } from '@hono/node-server';
import proxyaddr from 'proxy-addr';
import type { ClientAddress } from './client-key.js';
import { compileTrustedProxies } from './trusted-proxies.js';

export interface NodeClientAddressOptions {
  /** Peers whose `x-forwarded-for` is believed (addresses, CIDR ranges, `loopback`, …); default none. */
  trustedProxies?: readonly string[];
}

export function nodeClientAddress(options: NodeClientAddressOptions = {}): ClientAddress {
  const trust = compileTrustedProxies(options.trustedProxies ?? []);
  return (c) => {
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
    if (incoming?.socket?.remoteAddress === undefined) return undefined;
    return proxyaddr(incoming, trust);
  };
}
