/** The sample grains hosted by the default silo (`npm start`). */
import { Account, Bank, Ledger } from './account.js';
import { ChatRoom } from './chat-room.js';
import { Counter } from './counter.js';
import { GameSession, Player } from './presence.js';
import { OrderHistory, ShoppingCart } from './shopping-cart.js';

export { Account, Bank, ChatRoom, Counter, GameSession, Ledger, OrderHistory, Player, ShoppingCart };
export type { CartEvent, CartState, Order } from './shopping-cart.js';
export type { LedgerEntry } from './account.js';
export type { ChatMessage } from './chat-room.js';
export type { CounterState } from './counter.js';

export const sampleGrains = [Counter, ChatRoom, Player, GameSession, Account, Ledger, Bank, ShoppingCart, OrderHistory];
