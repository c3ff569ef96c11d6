/** The cluster conformance suite, unchanged, against the NATS provider on a real nats-server. */
import { afterAll, beforeAll } from 'vitest';
import { natsCluster } from 'granary';
import { clusterConformance } from '../conformance/cluster.js';
import { NatsServer } from '../support/nats-server.js';

let server: NatsServer;
beforeAll(async () => { server = await NatsServer.start(); });
afterAll(async () => { await server?.stop(); });

let n = 0;
// Each test gets its own cluster name: its own subjects and KV buckets on the server.
clusterConformance('NATS', () => ({ provider: () => natsCluster({ servers: server.url, name: `conformance-${++n}` }) }));
