/**
 * The one DynamoDB client a provider uses for all its calls. The SDK costs ~0.5–1 ms of CPU per
 * call, so it is built once and reused; its sockets are kept alive (a fresh TCP connection per
 * call would cost more than the call), and every attempt is bounded in time.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedOptions } from './options.js';

/** The SDK's client class, passed in: whoever calls has loaded the SDK (see sdk.ts). */
export type DynamoDBClientClass = typeof DynamoDBClient;

export interface ClientHandle {
  client: DynamoDBClient;
  /** Stops the client and closes its sockets. */
  destroy(): void;
}

export function createClient(o: ResolvedOptions, Client: DynamoDBClientClass): ClientHandle {
  const agentOptions = { keepAlive: true, maxSockets: o.maxSockets, keepAliveMsecs: 1_000 };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);
  const client = new Client({
    region: o.region,
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    // Standard mode: exponential backoff with jitter, a longer base delay for throttling, and a
    // retry-token bucket that stops retrying when most calls fail (an outage fails fast).
    retryMode: 'standard',
    maxAttempts: o.maxAttempts,
    requestHandler: {
      httpAgent,
      httpsAgent,
      connectionTimeout: o.connectTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
  return {
    client,
    destroy() {
      client.destroy();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
