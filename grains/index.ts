/** The sample grains hosted by the default silo (`npm start`). */
import { ChatRoom } from './chat-room.js';
import { Counter } from './counter.js';
import { GameSession, Player } from './presence.js';

export { ChatRoom, Counter, GameSession, Player };
export type { ChatMessage } from './chat-room.js';
export type { CounterState } from './counter.js';

export const sampleGrains = [Counter, ChatRoom, Player, GameSession];
