/**
 * The peers whose `x-forwarded-for` the gateway believes (`GRANARY_TRUSTED_PROXIES`):
 * addresses, CIDR ranges, or the names `loopback`, `linklocal`, `uniquelocal`. Compiled by
 * proxy-addr, Express's implementation of the same rule. No Node imports: silo/config.ts
 * checks the list with it, and the Worker bundles the config.
 */
import proxyaddr from 'proxy-addr';

/** Whether an address (the peer, then each hop of `x-forwarded-for`, right to left) is trusted. */
export type TrustProxy = (address: string, hop: number) => boolean;

/** Throws a `TypeError` naming the first entry that is not an address, a range or a known name. */
export function compileTrustedProxies(list: readonly string[]): TrustProxy {
  for (const entry of list) {
    try {
      proxyaddr.compile(entry);
    } catch {
      throw new TypeError(`${JSON.stringify(entry)} is not an IP address, a CIDR range (10.0.0.0/8, fd00::/8) or one of loopback, linklocal, uniquelocal`);
    }
  }
  return proxyaddr.compile([...list]);
}
