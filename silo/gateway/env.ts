/** The Hono environment of the gateway app: what its middleware hands on to the handlers. */
import type { GrainTarget } from './target.js';
import type { CallRequest } from './call-request.js';

export interface GatewayEnv {
  Variables: {
    /** The grain and method a `/grains/:type/:key/:method` request names (set by `grainTarget`). */
    target: GrainTarget;
    /** What the call's headers say (set by `callHeaders`). */
    call: CallRequest;
    /** Who is calling, when the `authorize` hook named someone (set by `gatewayAuth`); the rate limit's key. */
    subject: string | undefined;
  };
}
