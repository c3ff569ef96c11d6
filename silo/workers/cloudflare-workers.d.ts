/**
 * The one runtime module of Cloudflare Workers that Granary imports: the Durable Object base
 * class (RPC methods are callable on stubs only for classes extending it). The bundle keeps
 * the import external; workerd provides it.
 */
declare module 'cloudflare:workers' {
  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: import('./cloudflare.js').DurableObjectStateLike;
    protected readonly env: Env;
    constructor(ctx: import('./cloudflare.js').DurableObjectStateLike, env: Env);
    fetch?(request: Request): Response | Promise<Response>;
  }
}
