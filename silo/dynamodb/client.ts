/**
 * The one DynamoDB client a provider uses for all its calls. The SDK costs ~0.5–1 ms of CPU per
 * call, so it is built once and reused; its sockets are kept alive (a fresh TCP connection per
 * call would cost more than the call), and every attempt is bounded in time.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedOptions } from './options.js';

/** The SDK's client class, passed in: whoever calls has loaded the SDK (see sdk.ts). */
export type DynamoDBClientClass = typeof DynamoDBClient;

export interface ClientHandle {
  client: DynamoDBClient;
  /** Stops the client and closes its sockets. */
  destroy(): void;
}

/**
 * `node:http` and `node:https`, taken when a client is made: importing them costs `import('granary')`
 * ~10 ms, for a client it may never make. Undefined where the runtime has no
 * `process.getBuiltinModule` (Node before 20.16, Workers, whose SDK build uses fetch): the
 * SDK's own keep-alive agents are used then, without our socket limit.
 */
function httpModules(): { http: typeof import('node:http'); https: typeof import('node:https') } | undefined {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (get === undefined) return undefined;
  return { http: get('node:http') as typeof import('node:http'), https: get('node:https') as typeof import('node:https') };
}

export function createClient(o: ResolvedOptions, Client: DynamoDBClientClass): ClientHandle {
  const agentOptions = { keepAlive: true, maxSockets: o.maxSockets, keepAliveMsecs: 1_000 };
  const modules = httpModules();
  const httpAgent = modules && new modules.http.Agent(agentOptions);
  const httpsAgent = modules && new modules.https.Agent(agentOptions);
  const client = new Client({
    region: o.region,
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    // Standard mode: exponential backoff with jitter, a longer base delay for throttling, and a
    // retry-token bucket that stops retrying when most calls fail (an outage fails fast).
    retryMode: 'standard',
    maxAttempts: o.maxAttempts,
    requestHandler: {
      ...(httpAgent !== undefined ? { httpAgent, httpsAgent } : {}),
      connectionTimeout: o.connectTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
  return {
    client,
    destroy() {
      client.destroy();
      httpAgent?.destroy();
      httpsAgent?.destroy();
    },
  };
}
