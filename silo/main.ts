#!/usr/bin/env node
/**
 * The container entry point (`node dist/silo/main.js`, the `granary-silo` bin): a silo
 * configured only by environment variables (silo/config.ts lists them), logging JSON lines
 * to stdout, stopping gracefully on SIGTERM/SIGINT within GRANARY_DRAIN_TIMEOUT_MS.
 *
 * Exit codes: 0 after a graceful stop; 1 when starting failed, the drain ran past its bound,
 * or a second signal cut it short; 2 for a bad configuration value (one line names it).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ClusterProvider, GrainClass, StorageProvider, StreamProvider } from '../runtime/index.js';
import { isGrainClass } from '../runtime/grain-type.js';
import { ConfigError, readConfig, type SiloConfig } from './config.js';
import { jsonLogger, type Logger } from './log.js';
import { memoryStorage } from './memory/index.js';
import { Silo } from './silo.js';

interface Resources {
  silo?: Silo;
  closers: (() => Promise<void>)[];
}

// Node 20 is this package's floor on purpose; the AWS SDK's notice about its future Node 22
// floor would otherwise be logged by every silo at start.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  let config: SiloConfig;
  try {
    config = readConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) exitBadConfig(err.variable, err.message);
    throw err;
  }
  const logger = jsonLogger({ level: config.logLevel, format: config.logFormat, write: (line) => process.stdout.write(line + '\n') }).child({ component: 'granary-silo' });
  for (const name of config.unknownVars) logger.warn(`unknown variable ${name} is ignored (a typo?); see docs/deploy.md for the list`, { variable: name });

  const res: Resources = { closers: [] };
  installSignalHandlers(config, logger, res);
  process.on('unhandledRejection', (err) => logger.error('unhandled rejection', { err }));
  // Process warnings (deprecations, the AWS SDK's notices) as JSON lines too, not free text on stderr.
  process.removeAllListeners('warning');
  process.on('warning', (w) => logger.warn(w.message, { warning: w.name, code: (w as { code?: string }).code }));

  try {
    const grains = await loadGrains(config.grainsModule);
    const cluster = await clusterFrom(config, logger);
    const storage = await storageFrom(config, logger, res);
    const streams = await streamsFrom(config, res);
    res.silo = await Silo.start({
      grains,
      cluster,
      storage,
      ...(streams !== undefined ? { streams } : {}),
      idleTimeoutMs: config.idleTimeoutMs,
      limits: config.limits,
      responseTimeoutMs: config.responseTimeoutMs,
      // The drain bound splits: HTTP requests in flight, then running turns, then the rest
      // (deactivation writes, leaving the cluster) in what is left.
      drainTimeoutMs: Math.max(100, Math.floor(config.drainTimeoutMs * 0.4)),
      logger,
      gateway: {
        port: config.port,
        host: config.host,
        maxBodyBytes: config.maxBodyBytes,
        token: config.authToken,
        rateLimit: config.rateLimit,
        trustedProxies: config.trustedProxies,
        ...config.connections,
        closeGraceMs: Math.max(100, Math.floor(config.drainTimeoutMs * 0.4)),
      },
    });
    if (stopping) {
      // A signal arrived while starting: the handler is waiting for this silo to exist.
      return;
    }
    logger.info('silo ready', {
      silo: res.silo.id,
      port: res.silo.gateway?.port,
      url: res.silo.gateway?.url,
      cluster: config.nats ? `nats:${config.cluster}` : 'in-process',
      storage: storage.name,
      grains: res.silo.types.names(),
    });
  } catch (err) {
    logger.error('silo failed to start', { err, detail: (err as Error)?.message, cause: String((err as Error)?.cause ?? '') || undefined });
    await closeAll(res, logger);
    process.exit(1);
  }
}

function exitBadConfig(variable: string, message: string): never {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: `invalid configuration: ${message}`, variable }) + '\n');
  process.exit(2);
}

/** Grain classes exported by GRANARY_GRAINS (a path or a package name), or the sample grains. */
async function loadGrains(spec: string | undefined): Promise<GrainClass[]> {
  if (spec === undefined) {
    const { sampleGrains } = await import('../grains/index.js');
    return [...sampleGrains];
  }
  const pathLike = spec.startsWith('.') || spec.startsWith('/') || /^[A-Za-z]:[\\/]/.test(spec);
  const url = pathLike ? pathToFileURL(resolve(process.cwd(), spec)).href : spec;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    exitBadConfig('GRANARY_GRAINS', `GRANARY_GRAINS: cannot load ${JSON.stringify(spec)}: ${(err as Error).message}`);
  }
  const found = new Set<GrainClass>();
  const consider = (v: unknown) => {
    // By brand, not instanceof: a class built on another copy of granary is found, and refused with a message that says so.
    if (isGrainClass(v)) found.add(v);
  };
  for (const v of Object.values(mod)) {
    if (Array.isArray(v)) v.forEach(consider);
    else consider(v);
  }
  if (found.size === 0) {
    exitBadConfig('GRANARY_GRAINS', `GRANARY_GRAINS: ${JSON.stringify(spec)} exports no grain classes (classes extending Grain from 'granary', or an array of them)`);
  }
  return [...found];
}

async function clusterFrom(config: SiloConfig, logger: Logger): Promise<ClusterProvider | undefined> {
  if (config.nats === undefined) {
    logger.info('no GRANARY_NATS_URL: running an in-process cluster of this one silo');
    return undefined;
  }
  // Loaded only when asked for: a single in-process silo never touches NATS code.
  const { natsCluster } = await import('./nats/index.js');
  return natsCluster({
    servers: config.nats,
    name: config.cluster,
    kvReplicas: config.natsReplicas,
    ...(config.natsCredsFile !== undefined ? { credsFile: config.natsCredsFile } : {}),
    ...(config.natsUser !== undefined ? { user: config.natsUser.user, pass: config.natsUser.pass } : {}),
    ...(config.clusterKey !== undefined ? { clusterKey: config.clusterKey } : {}),
    ...(config.natsTls !== undefined ? { tls: config.natsTls } : {}),
    // Leaving waits for calls still being answered; it gets a share of the drain bound.
    drainTimeoutMs: Math.max(100, Math.floor(config.drainTimeoutMs * 0.2)),
    logger,
  });
}

async function storageFrom(config: SiloConfig, logger: Logger, res: Resources): Promise<StorageProvider> {
  if (config.storage === 'memory') {
    logger.warn('GRANARY_STORAGE=memory: grain state lives in this process only and is lost when it exits');
    return memoryStorage();
  }
  // Loaded only when asked for: the AWS SDK and dynalite are heavy to import.
  const { dynamoStorage, startEmbeddedDynalite } = await import('./dynamodb/index.js');
  if (config.storage === 'dynamodb') {
    const storage = dynamoStorage({ table: config.dynamo.table, endpoint: config.dynamo.endpoint, region: config.dynamo.region });
    res.closers.push(() => storage.close());
    if (config.dynamo.createTable) {
      const { created } = await storage.ensureTable();
      logger.info(created ? 'table created' : 'table exists', { table: storage.table, endpoint: storage.endpoint });
    } else {
      // A missing table fails the start here, with the command that creates it.
      await storage.checkTable();
    }
    return storage;
  }
  // Embedded default (npm start): dynalite in this process, on disk, so state survives a restart.
  // On loopback only, and answering only requests signed with a key made for this start, so
  // another local user cannot read or write the store through it (docs/storage.md).
  const dir = resolve(process.cwd(), config.dataDir, 'dynamodb');
  const embedded = await startEmbeddedDynalite({ dir, credentials: 'random' });
  res.closers.push(() => embedded.close());
  const storage = dynamoStorage({ table: config.dynamo.table, endpoint: embedded.endpoint, region: 'local', credentials: embedded.credentials });
  res.closers.push(() => storage.close());
  await storage.ensureTable();
  logger.info('embedded dynalite ready', { dir, endpoint: embedded.endpoint, table: storage.table });
  return storage;
}

/**
 * Streams: on a NATS cluster, JetStream; on the embedded default, in memory, logged under the
 * data directory, so they survive a restart as the grain state does (docs/streams.md). Memory
 * storage keeps its own; DynamoDB without NATS has none.
 */
async function streamsFrom(config: SiloConfig, res: Resources): Promise<StreamProvider | undefined> {
  if (config.nats !== undefined) {
    // On a NATS cluster: JetStream, one stream per namespace (docs/streams.md).
    const { natsStreams } = await import('./nats/index.js');
    const streams = natsStreams({
      servers: config.nats,
      name: config.cluster,
      replicas: config.natsReplicas,
      ...(config.natsCredsFile !== undefined ? { credsFile: config.natsCredsFile } : {}),
      ...(config.natsUser !== undefined ? { user: config.natsUser.user, pass: config.natsUser.pass } : {}),
      ...(config.natsTls !== undefined ? { tls: config.natsTls } : {}),
    });
    res.closers.push(() => streams.close());
    return streams;
  }
  if (config.storage !== 'dynalite') return undefined;
  const { fileStreams } = await import('./memory/stream-file.js');
  const streams = await fileStreams(resolve(process.cwd(), config.dataDir, 'streams.log'));
  res.closers.push(() => streams.close());
  return streams;
}

let stopping = false;

function installSignalHandlers(config: SiloConfig, logger: Logger, res: Resources): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal during the graceful stop: exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('stopping', { signal, drainTimeoutMs: config.drainTimeoutMs });
    const bound = setTimeout(() => {
      logger.error('graceful stop ran past GRANARY_DRAIN_TIMEOUT_MS: exiting without finishing it', { drainTimeoutMs: config.drainTimeoutMs });
      process.exit(1);
    }, config.drainTimeoutMs);
    // Not unref'd: a stop stuck on a promise that never settles would otherwise let the
    // event loop run dry and exit 0 as if the stop had finished.
    void bound;
    void (async () => {
      // A signal during start: wait until the silo exists (or start failed and exited).
      while (res.silo === undefined) await new Promise((r) => setTimeout(r, 20));
      await res.silo.stop();
      await closeAll(res, logger);
      logger.info('stopped', { signal });
      process.exit(0);
    })().catch((err) => {
      logger.error('graceful stop failed', { err });
      process.exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function closeAll(res: Resources, logger: Logger): Promise<void> {
  for (const close of res.closers.reverse()) await close().catch((err) => logger.warn('closing a resource failed', { err }));
}

await main();
