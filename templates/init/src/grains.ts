// The module GRANARY_GRAINS names (as compiled: dist/grains.js): the silo hosts every
// grain class it exports. Export each new grain here.
export { TodoList } from './todo-list.js';
