/**
 * How `natsCluster(...)` options become `nats.connect` options. Security options (token,
 * user/password, nkey, creds, TLS, or any authenticator) pass straight through; reconnection
 * is always on (infinite attempts, short wait). Loaded with the NATS client, on first connect.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator, type ConnectionOptions } from 'nats';
import { InvalidArgumentError } from '../../runtime/index.js';
import { positive, serverList, type NatsClusterOptions } from './options.js';

/**
 * The `nats.connect` options for one silo or client connection. `inboxPrefix`: where its reply
 * subjects live (the silo or the client inbox of the cluster), so that permissions can grant
 * them; the NATS client's own requests (JetStream API, the KV watch) use it too.
 */
export function connectionOptions(o: NatsClusterOptions, connectionName: string, inboxPrefix: string): ConnectionOptions {
  const { servers, user, pass, token } = credentialsFromUrls(serverList(o.servers));
  const authenticators: Authenticator[] = [];
  if (o.authenticator) authenticators.push(...(Array.isArray(o.authenticator) ? o.authenticator : [o.authenticator]));
  if (o.nkeySeed !== undefined) authenticators.push(nkeyAuthenticator(new TextEncoder().encode(o.nkeySeed)));
  if (o.creds !== undefined) authenticators.push(credsAuthenticator(new TextEncoder().encode(o.creds)));
  if (o.credsFile !== undefined) {
    let text: Uint8Array;
    try {
      text = readFileSync(o.credsFile);
    } catch (err) {
      throw new InvalidArgumentError(`natsCluster: cannot read credsFile ${o.credsFile}: ${(err as Error).message}`, { cause: err });
    }
    authenticators.push(credsAuthenticator(text));
  }
  const options: ConnectionOptions = {
    servers,
    name: o.connectionName ?? connectionName,
    inboxPrefix,
    timeout: positive(o.connectTimeoutMs, 5000, 'connectTimeoutMs'),
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: positive(o.reconnectTimeWaitMs, 250, 'reconnectTimeWaitMs'),
    reconnectJitter: 50,
    waitOnFirstConnect: false,
    // A stack trace per request costs more than the request; our errors say what failed.
    noAsyncTraces: true,
  };
  // Explicit options win over credentials written in the URL.
  if (o.token !== undefined || o.user !== undefined) {
    if (o.token !== undefined) options.token = o.token;
    if (o.user !== undefined) options.user = o.user;
    if (o.pass !== undefined) options.pass = o.pass;
  } else {
    if (token !== undefined) options.token = token;
    if (user !== undefined) options.user = user;
    if (pass !== undefined) options.pass = pass;
  }
  if (authenticators.length > 0) options.authenticator = authenticators.length === 1 ? authenticators[0]! : authenticators;
  if (o.tls !== undefined) options.tls = o.tls === true ? {} : o.tls;
  return options;
}

/**
 * `nats://user:pass@host:4222` and `nats://token@host:4222` carry credentials (the NATS
 * client ignores them there): take them out of the URLs and into options. The first URL
 * with credentials decides.
 */
function credentialsFromUrls(urls: string[]): { servers: string[]; user?: string; pass?: string; token?: string } {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  let found = false;
  for (const raw of urls) {
    const m = /^([a-z]+:\/\/)([^@/]*)@(.*)$/i.exec(raw);
    if (m === null) { out.servers.push(raw); continue; }
    out.servers.push(m[1]! + m[3]!);
    if (found) continue;
    found = true;
    // The first ":" ends the user; the password is the rest, ":"s included (RFC 3986 userinfo).
    const userinfo = m[2]!;
    const colon = userinfo.indexOf(':');
    if (colon < 0) out.token = decodeURIComponent(userinfo);
    else { out.user = decodeURIComponent(userinfo.slice(0, colon)); out.pass = decodeURIComponent(userinfo.slice(colon + 1)); }
  }
  return out;
}

