/**
 * Who a request counts against for the rate limit: the subject the `authorize` hook named,
 * else the client's address. Never a header the client can vary: a made-up `authorization`
 * value, or one shared token, is not an identity.
 *
 * The address is the host's to tell (`clientAddress`): on Node the socket's peer, or what
 * `x-forwarded-for` says when that peer is a trusted proxy (node-client-address.ts); on
 * Workers `cf-connecting-ip`, which Cloudflare sets and clients cannot. IPv6 addresses
 * count per /64, the block one subscriber usually holds, so rotating through it gains nothing.
 */
import type { Context } from 'hono';
import { getRuntimeKey } from 'hono/adapter';
import ipaddr from 'ipaddr.js';

/** The client's address as the host sees it; undefined when it cannot tell. */
export type ClientAddress = (c: Context) => string | undefined;

/** The rate-limit key of a request: `subject:<hook's subject>` or `address:<client address>`. */
export function subjectOrAddress(address: ClientAddress): (c: Context) => string {
  return (c) => {
    const subject = c.get('subject') as string | undefined;
    if (subject !== undefined) return `subject:${subject}`;
    const a = address(c);
    // Unknown addresses share one bucket: being unidentifiable buys no fresh budget.
    return `address:${a === undefined ? 'unknown' : addressBucket(a)}`;
  };
}

/**
 * The address without any configuration: `cf-connecting-ip` on Workers, the socket's peer
 * under @hono/node-server. Elsewhere unknown.
 */
export const defaultClientAddress: ClientAddress = (c) => {
  if (getRuntimeKey() === 'workerd') return c.req.header('cf-connecting-ip');
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress;
};

/** One key per IPv4 address, per IPv6 /64; IPv4-mapped IPv6 counts as the IPv4 address. */
export function addressBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  if (ip.kind() === 'ipv4') return ip.toString();
  const parts = (ip as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
