import type { ObjectId } from '../ids.js';

/**
 * A future: the id of an object that exists, or will once its task finishes.
 * `T` is the value type; it exists only for the type checker.
 */
export class ObjectRef<T = unknown> {
  readonly id: ObjectId;
  /** Phantom field that carries T (never set at run time). */
  declare readonly __value?: T;
  constructor(id: ObjectId) {
    this.id = id;
  }
  toString(): string {
    return `ObjectRef(${this.id})`;
  }
  toJSON(): { objectRef: string } {
    return { objectRef: this.id };
  }
}

export function isObjectRef(v: unknown): v is ObjectRef {
  return v instanceof ObjectRef;
}
