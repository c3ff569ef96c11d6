// The Cloudflare Worker (wrangler.toml's `main`): the same grains, one Durable Object per
// grain, behind the same HTTP gateway as the silo's.
import { granaryWorker } from 'granary/workers';
import { TodoList } from './todo-list.js';

export const { GrainObject, handler } = granaryWorker({ grains: [TodoList] });
export default handler;
