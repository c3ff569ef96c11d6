import { Grain } from 'granary';

export interface TodoItem { id: number; text: string; done: boolean }

interface TodoListState { items: TodoItem[]; nextId: number }

/**
 * One to-do list per key: `getGrain(TodoList, 'alice')` is Alice's list. It exists
 * virtually; a silo activates it on its first call and runs its calls one at a time.
 */
export class TodoList extends Grain<TodoListState> {
  // The name callers and the HTTP gateway use (POST /grains/TodoList/:key/:method). Set
  // explicitly so that renaming the class, or a bundler renaming it, changes nothing.
  static grainType = 'TodoList';
  // Deactivate after five minutes unused; the state stays in storage.
  static idleTimeoutMs = 5 * 60_000;

  protected override initialState(): TodoListState { return { items: [], nextId: 1 }; }

  async add(text: string): Promise<TodoItem> {
    const item = { id: this.state.nextId++, text, done: false };
    this.state.items.push(item);
    await this.writeState();
    return item;
  }

  async complete(id: number): Promise<TodoItem> {
    const item = this.state.items.find((i) => i.id === id);
    if (item === undefined) throw new Error(`no item ${id} in list ${this.key}`);
    item.done = true;
    await this.writeState();
    return item;
  }

  async items(): Promise<TodoItem[]> { return this.state.items; }
}
