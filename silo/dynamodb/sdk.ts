/**
 * Loads `@aws-sdk/client-dynamodb` (~70 CommonJS modules, most of a cold `import 'granary'`
 * when it was eager) when a DynamoDB provider is first used.
 */
import { createRequire } from 'node:module';

export type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');

export function loadSdk(): Promise<DynamoDbSdk> {
  return import('@aws-sdk/client-dynamodb');
}

/**
 * The same module, synchronously: for `storage.client`, a property. In Node the SDK is
 * CommonJS whether imported or required, so both give the one module instance.
 */
export function loadSdkNow(): DynamoDbSdk {
  return createRequire(import.meta.url)('@aws-sdk/client-dynamodb') as DynamoDbSdk;
}
