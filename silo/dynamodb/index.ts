/**
 * DynamoDB grain storage, and dynalite embedded for development (`granary/silo`'s DynamoDB
 * adapter). Nothing here loads the AWS SDK or dynalite at import: `dynamoStorage` loads the
 * SDK on first use (provider.ts), `startEmbeddedDynalite` requires dynalite when called.
 */
export { dynamoStorage } from './provider.js';
export type { DynamoStorage } from './storage.js';
export type { DynamoStorageOptions, AwsCredentialIdentity } from './options.js';
export type { EnsureTableResult } from './table.js';
export type { CollectChunksOptions, CollectChunksResult } from './chunks.js';
export { TableNotFoundError } from './errors.js';
export { startEmbeddedDynalite } from './embedded.js';
export type { EmbeddedDynalite, EmbeddedDynaliteOptions } from './dynalite.js';
