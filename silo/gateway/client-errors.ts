/**
 * What Node's HTTP server answers on its own, before (or beside) the app: a request whose
 * headers or body did not arrive within `headersTimeout` / `requestTimeout`, headers too
 * large, bytes that are not HTTP. Node's default answers are bare text; these are the
 * gateway's JSON error bodies, and the connection is closed after them, since its request
 * cannot be finished. The listener of the server's `clientError` event.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError, errorBody, statusOf } from './http-errors.js';

export interface ClientErrorLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
}

export function answerClientError(limits: ClientErrorLimits) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    // A response already begun cannot be replaced; a peer that is gone cannot read one.
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const error = errorFor(err, limits);
    const body = JSON.stringify(errorBody(error));
    const status = statusOf(error.code);
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      'connection: close',
    ];
    // Closed once written, whatever the peer still sends: a trickling client holds nothing.
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  };
}

function errorFor(err: NodeJS.ErrnoException, limits: ClientErrorLimits): HttpError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError('request_timeout', `the request did not arrive in time (headers within ${limits.headersTimeoutMs} ms, all of it within ${limits.requestTimeoutMs} ms); send it at once, or split it`);
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError('headers_too_large', 'the request headers are too large (Node\'s limit, 16 KiB by default); send fewer or shorter headers');
    default:
      return new HttpError('invalid_request', `malformed HTTP request (${err.code ?? err.message})`);
  }
}
