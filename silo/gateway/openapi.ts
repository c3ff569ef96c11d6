/**
 * `GET /openapi.json`: an OpenAPI 3.1 description of every callable method of the grain types
 * this host serves, one path per method, with the JSON Schema of its arguments where the
 * method declares Standard Schemas whose library provides one (runtime/features/schemas).
 */
import { methodJsonSchemas } from '../../runtime/features/schemas/index.js';
import type { GrainType } from '../../runtime/grain-type.js';
import { GRANARY_JSON, TIMEOUT_HEADER } from '../../runtime/protocol.js';

const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, name: { type: 'string' }, status: { type: 'integer' } },
    },
  },
};

const ERROR_RESPONSES = Object.fromEntries(
  [
    ['400', 'invalid arguments or request (`invalid_argument`, `invalid_request`)'],
    ['401', 'missing or wrong bearer token'],
    ['404', 'unknown grain type or method'],
    ['409', 'conflict (`inconsistent_state`, a transaction abort)'],
    ['413', 'body too large'],
    ['429', 'rate limited (see `retry-after`)'],
    ['500', 'the grain threw (`grain_error`)'],
    ['503', 'unavailable'],
    ['504', 'no answer within the deadline'],
  ].map(([status, description]) => [status, { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
);

export interface OpenApiOptions {
  title?: string;
  version?: string;
}

export function openApiDocument(types: readonly GrainType[], options: OpenApiOptions = {}): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const type of [...types].sort((a, b) => a.name.localeCompare(b.name))) {
    const schemas = methodJsonSchemas(type);
    for (const method of [...type.methods].sort()) {
      const args = schemas.get(method) ?? { type: 'array' };
      paths[`/grains/${encodeURIComponent(type.name)}/{key}/${encodeURIComponent(method)}`] = {
        post: {
          operationId: `${type.name}.${method}`,
          tags: [type.name],
          summary: `${type.name}.${method}`,
          parameters: [
            { name: 'key', in: 'path', required: true, description: 'the grain key', schema: { type: 'string' } },
            { name: TIMEOUT_HEADER, in: 'header', required: false, description: 'how long to wait, in milliseconds', schema: { type: 'integer', minimum: 1 } },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { type: 'object', required: ['args'], properties: { args } } },
              [GRANARY_JSON]: { schema: { type: 'object', required: ['args'], properties: { args: { type: 'array' } } } },
            },
          },
          responses: {
            200: { description: 'the method\'s result', content: { 'application/json': { schema: { type: 'object', required: ['result'], properties: { result: {} } } } } },
            ...ERROR_RESPONSES,
          },
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: options.title ?? 'Granary grains', version: options.version ?? '1' },
    paths,
    components: { schemas: { Error: ERROR } },
  };
}
