/**
 * A NATS trust chain for operator (decentralised JWT) mode, made at test time in a temp dir
 * with the NATS JWT library: an operator, a system account, an application account and a user
 * of it, as `nsc` would make them. `serverConfig` is the nats-server config that trusts the
 * operator and knows both accounts (a MEMORY resolver preloaded with their JWTs); pass it to
 * `NatsServer.start({ config })`. `userCreds` is the user's `.creds` file; `strangerCreds` is
 * a user's of an account the server does not know (signed by the same operator, never preloaded).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds,
  type KeyPair, type OperatorLimits,
} from '@nats-io/jwt';

export interface NatsOperator {
  readonly dir: string;
  /** nats-server config text: `operator`, `system_account`, `resolver: MEMORY`, `resolver_preload`. */
  readonly serverConfig: string;
  /** Path of the `.creds` file of a user of the account the server knows. */
  readonly userCreds: string;
  /** Path of the `.creds` file of a user of an account the server does not know. */
  readonly strangerCreds: string;
  /** What must never show in a log: the users' nkey seeds (`SU…`). */
  readonly secrets: readonly string[];
  remove(): void;
}

/**
 * No limit on anything. An account JWT that omits a limit has it at 0, which the server
 * enforces (0 connections, 0 subscriptions), so every one is set.
 */
const UNLIMITED: OperatorLimits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
/** Without JetStream limits in its JWT an account has no JetStream (KV calls answer 503). */
const UNLIMITED_JETSTREAM: OperatorLimits = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

export async function makeNatsOperator(): Promise<NatsOperator> {
  const dir = mkdtempSync(join(tmpdir(), 'granary-nats-operator-'));
  const operator = createOperator();
  // nats-server 2.9 refuses to start JetStream in operator mode without a system account.
  const system = createAccount();
  const app = createAccount();
  const stranger = createAccount();
  const operatorJwt = await encodeOperator('granary-test', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, { limits: UNLIMITED }, { signer: operator });
  const appJwt = await encodeAccount('APP', app, { limits: { ...UNLIMITED, ...UNLIMITED_JETSTREAM } }, { signer: operator });

  const user = createUser();
  const strangerUser = createUser();
  const userCreds = await writeCreds(dir, 'user.creds', user, app);
  const strangerCreds = await writeCreds(dir, 'stranger.creds', strangerUser, stranger);

  const serverConfig = [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${system.getPublicKey()}: ${systemJwt}`,
    `  ${app.getPublicKey()}: ${appJwt}`,
    '}',
  ].join('\n');
  const seed = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
  return {
    dir,
    serverConfig,
    userCreds,
    strangerCreds,
    secrets: [seed(user), seed(strangerUser)],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Writes the user's JWT (issued by `account`) and seed in the standard `.creds` format. */
async function writeCreds(dir: string, name: string, user: KeyPair, account: KeyPair): Promise<string> {
  const jwt = await encodeUser(name, user, account);
  const path = join(dir, name);
  writeFileSync(path, fmtCreds(jwt, user), { mode: 0o600 });
  return path;
}
