/**
 * The body of a grain call: at most `maxBytes` (`hono/body-limit`, which also bounds chunked
 * bodies while they stream), UTF-8, and exactly `{"args": [...]}` (or `{}` for none), in
 * plain JSON or the codec's tagged form.
 */
import type { HonoRequest, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { decode, type DecodeOptions } from '../../runtime/codec.js';
import { HttpError } from './http-errors.js';

export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => { throw new HttpError('payload_too_large', `request body is larger than ${maxBytes} bytes`); },
  });
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The call's arguments from its body. */
export async function readArgs(req: HonoRequest, rich: boolean, ref: DecodeOptions['ref']): Promise<unknown[]> {
  const bytes = await req.arrayBuffer();
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new HttpError('invalid_request', 'request body is not valid UTF-8');
  }
  return parseArgs(text, rich, ref);
}

function parseArgs(text: string, rich: boolean, ref: DecodeOptions['ref']): unknown[] {
  if (text.trim() === '') throw new HttpError('invalid_request', 'empty body: send {"args": [...]}');
  let body: unknown;
  try {
    // `{"args": [ … ]}` around each argument is not counted against the depth limit.
    body = rich ? decode(text, ref ? { ref } : undefined, 2) : JSON.parse(text);
  } catch (err) {
    throw new HttpError('invalid_request', `malformed JSON body: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError('invalid_request', 'the body must be a JSON object {"args": [...]}');
  }
  for (const k of Object.keys(body)) {
    if (k !== 'args') throw new HttpError('invalid_request', `unexpected field ${JSON.stringify(k.slice(0, 64))} in the body; send {"args": [...]}`);
  }
  const args = (body as { args?: unknown }).args;
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw new HttpError('invalid_request', '"args" must be an array of the method\'s arguments');
  return args;
}
