#!/usr/bin/env node
/**
 * The `granary` command line: operator tasks that are not a silo.
 *
 *   granary create-table --table T [--endpoint URL] [--region R] [--provisioned READ,WRITE]
 *   granary check-table  --table T [--endpoint URL] [--region R]
 *
 * Options fall back to GRANARY_DYNAMODB_TABLE, GRANARY_DYNAMODB_ENDPOINT and AWS_REGION.
 *   granary silos | grains | grain | call | deactivate | tail   (silo/ops-cli.ts)
 *
 * Exit codes: 0 done, 1 the operation failed (one line says why), 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { dynamoStorage, type DynamoStorageOptions } from './dynamodb/index.js';
import { OPS_COMMANDS, OpsUsageError, runOpsCommand, type OpsCommand } from './ops-cli.js';

const USAGE = `usage:
  granary create-table --table T [--endpoint URL] [--region R] [--provisioned READ,WRITE]
      creates the DynamoDB table for grain state if it is missing (on-demand billing unless
      --provisioned), and waits until it is ACTIVE; does nothing if it exists
  granary check-table --table T [--endpoint URL] [--region R]
      checks that the table exists and has the key schema granary needs
  granary check [paths…]
      fails for private/protected grain methods that clients could call (needs typescript)
  granary init <dir> [--granary SPEC] [--name NAME]
      scaffolds a project that uses granary (granary init --help says more)

  against a running cluster, through a silo's gateway (each takes --url, --token, --help):
  granary silos                                   the silos, their status and activations
  granary grains [--type T] [--limit N]           active grains, a page at a time
  granary grain <Type>/<key>                      whether a grain is active, and where
  granary call <Type>/<key> <method> [json args…] calls a grain, prints the result as JSON
  granary deactivate <Type>/<key>                 deactivates a grain
  granary tail <namespace>/<key> [--from N]       follows a stream, one JSON line per item

  --table      table name          (default: $GRANARY_DYNAMODB_TABLE)
  --endpoint   endpoint URL        (default: $GRANARY_DYNAMODB_ENDPOINT, else AWS itself)
  --region     AWS region          (default: $AWS_REGION, else us-east-1)
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'init') return (await import('./init.js')).initCommand(rest);
  if (command === 'check') return (await import('./check.js')).runCheck(rest);
  if ((OPS_COMMANDS as readonly string[]).includes(command)) {
    try {
      return await runOpsCommand(command as OpsCommand, rest);
    } catch (err) {
      if (err instanceof OpsUsageError) { process.stderr.write(`granary: ${err.message}\n`); return 2; }
      throw err;
    }
  }
  if (command !== 'create-table' && command !== 'check-table') throw new UsageError(`unknown command "${command}"`);
  let values: { table?: string; endpoint?: string; region?: string; provisioned?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { table: { type: 'string' }, endpoint: { type: 'string' }, region: { type: 'string' }, provisioned: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const table = values.table ?? process.env.GRANARY_DYNAMODB_TABLE;
  if (table === undefined) throw new UsageError('--table is required (or set GRANARY_DYNAMODB_TABLE)');
  const options: DynamoStorageOptions = { table, endpoint: values.endpoint ?? process.env.GRANARY_DYNAMODB_ENDPOINT, region: values.region };
  if (values.provisioned !== undefined) {
    if (command !== 'create-table') throw new UsageError('--provisioned only applies to create-table');
    const m = /^(\d+),(\d+)$/.exec(values.provisioned);
    if (!m) throw new UsageError(`--provisioned takes READ,WRITE capacity units, e.g. 5,5 (got ${JSON.stringify(values.provisioned)})`);
    options.billing = { readCapacityUnits: Number(m[1]), writeCapacityUnits: Number(m[2]) };
  }
  let storage;
  try {
    storage = dynamoStorage(options);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  try {
    if (command === 'create-table') {
      const { created } = await storage.ensureTable();
      process.stdout.write(`table "${table}" at ${storage.endpoint} ${created ? 'created' : 'already exists'}; it is ACTIVE\n`);
    } else {
      await storage.checkTable();
      process.stdout.write(`table "${table}" at ${storage.endpoint} is ACTIVE and fits granary\n`);
    }
    return 0;
  } finally {
    await storage.close();
  }
}

// This tool runs on Node 20 on purpose; the SDK's notice about its future Node 22 floor is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`granary: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`granary: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
