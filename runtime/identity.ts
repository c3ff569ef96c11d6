/** A grain's identity: its type and its key. `String(id)` is `"type/key"`. */
export interface GrainId {
  readonly type: string;
  readonly key: string;
  toString(): string;
}

class Id implements GrainId {
  constructor(readonly type: string, readonly key: string) {}
  toString(): string { return `${this.type}/${this.key}`; }
  toJSON(): string { return this.toString(); }
}

export function grainId(type: string, key: string): GrainId {
  return new Id(type, key);
}

/** Parses `"type/key"`; the key may itself contain `/`. */
export function parseGrainId(s: string): GrainId {
  const i = s.indexOf('/');
  if (i <= 0) throw new TypeError(`not a grain id: ${JSON.stringify(s)} (expected "type/key")`);
  return new Id(s.slice(0, i), s.slice(i + 1));
}

/** Marks a grain reference so the codec can send it as an identity, not as an object. */
export const grainRefTarget: unique symbol = Symbol.for('granary.grainRef');

/** Anything carrying a grain identity under `grainRefTarget` (every `GrainRef`). */
export interface HasGrainId {
  readonly [grainRefTarget]: GrainId;
}
