import { Grain } from '../runtime/index.js';

/**
 * The Halo presence sample: players report heartbeats to their game session; a player knows
 * its current game, the game knows its players. Player and game call each other.
 */
interface PlayerState { game: string | undefined; lastSeen: number }

export class Player extends Grain<PlayerState> {
  protected override initialState(): PlayerState { return { game: undefined, lastSeen: 0 }; }

  /** Joins `game` (leaving the previous one) and returns the game's player list. */
  async joinGame(game: string): Promise<string[]> {
    if (this.state.game !== undefined && this.state.game !== game) {
      await this.getGrain(GameSession, this.state.game).removePlayer(this.key);
    }
    this.state.game = game;
    this.state.lastSeen = Date.now();
    await this.writeState();
    return this.getGrain(GameSession, game).addPlayer(this.key);
  }

  async leaveGame(): Promise<void> {
    if (this.state.game === undefined) return;
    await this.getGrain(GameSession, this.state.game).removePlayer(this.key);
    this.state.game = undefined;
    await this.writeState();
  }

  async currentGame(): Promise<string | undefined> { return this.state.game; }

  /** Called by the game when it ends. */
  async gameEnded(game: string): Promise<void> {
    if (this.state.game !== game) return;
    this.state.game = undefined;
    await this.writeState();
  }
}

interface GameState { players: string[]; score: Record<string, number>; ended: boolean }

export class GameSession extends Grain<GameState> {
  protected override initialState(): GameState { return { players: [], score: {}, ended: false }; }

  async addPlayer(player: string): Promise<string[]> {
    if (this.state.ended) throw new Error(`game ${this.key} has ended`);
    if (!this.state.players.includes(player)) {
      this.state.players.push(player);
      await this.writeState();
    }
    return [...this.state.players];
  }

  async removePlayer(player: string): Promise<void> {
    this.state.players = this.state.players.filter((p) => p !== player);
    await this.writeState();
  }

  async heartbeat(player: string, points: number): Promise<number> {
    if (!this.state.players.includes(player)) throw new Error(`${player} is not in game ${this.key}`);
    this.state.score[player] = (this.state.score[player] ?? 0) + points;
    await this.writeState();
    return this.state.score[player]!;
  }

  async players(): Promise<string[]> { return [...this.state.players]; }

  /** Ends the game and tells every player (game → player calls). */
  async end(): Promise<Record<string, number>> {
    this.state.ended = true;
    await this.writeState();
    await Promise.all(this.state.players.map((p) => this.getGrain(Player, p).gameEnded(this.key)));
    return { ...this.state.score };
  }
}
