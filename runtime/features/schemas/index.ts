/**
 * Argument schemas: Standard Schema validation of grain method arguments, plugged into the
 * core as a grain type feature (an incoming call filter). Importing this module registers it.
 */
export { schemasOf, validateArguments } from './feature.js';
export type { ArgumentIssue } from './feature.js';
export { isStandardSchema } from './standard-schema.js';
export type { StandardIssue, StandardResult, StandardSchemaProps, StandardSchemaV1 } from './standard-schema.js';
export { methodJsonSchemas } from './json-schema.js';
