import { z } from 'zod';
import { Grain, InvalidArgumentError } from '../runtime/index.js';

const user = z.string().min(1).max(256);

export interface ChatMessage { from: string; text: string; at: number; seq: number }
interface ChatRoomState { members: string[]; messages: ChatMessage[]; seq: number }

/** A chat room that keeps the last `HISTORY` messages and its member list. */
export class ChatRoom extends Grain<ChatRoomState> {
  static readonly HISTORY = 100;
  static interleave = ['history'];
  static schemas = {
    join: [user],
    leave: [user],
    // The text's own rule stays in `post`, with its message.
    post: [user, z.string()],
    history: [z.number().int().nonnegative().optional()],
    members: [],
  };

  protected override initialState(): ChatRoomState { return { members: [], messages: [], seq: 0 }; }

  async join(user: string): Promise<string[]> {
    if (!this.state.members.includes(user)) {
      this.state.members.push(user);
      await this.writeState();
    }
    return [...this.state.members];
  }

  async leave(user: string): Promise<void> {
    const i = this.state.members.indexOf(user);
    if (i < 0) return;
    this.state.members.splice(i, 1);
    await this.writeState();
  }

  async post(from: string, text: string): Promise<ChatMessage> {
    if (typeof text !== 'string' || text.length === 0 || text.length > 4000) {
      throw new InvalidArgumentError('a chat message must be a non-empty string of at most 4000 characters');
    }
    if (!this.state.members.includes(from)) throw new InvalidArgumentError(`${from} is not a member of room ${this.key}; join first`);
    const msg: ChatMessage = { from, text, at: Date.now(), seq: ++this.state.seq };
    this.state.messages.push(msg);
    if (this.state.messages.length > ChatRoom.HISTORY) this.state.messages.splice(0, this.state.messages.length - ChatRoom.HISTORY);
    await this.writeState();
    return msg;
  }

  async history(sinceSeq = 0): Promise<ChatMessage[]> {
    return this.state.messages.filter((m) => m.seq > sinceSeq);
  }

  async members(): Promise<string[]> { return [...this.state.members]; }
}
