// Content hashes of objects (checked on every transfer). The portable default
// is SHA-256 in JS (~100 MB/s); platforms install a faster one: node:crypto on
// Node, SubtleCrypto in browsers.
import { sha256 } from '@noble/hashes/sha2';
import { toHex } from './ids.js';

export type ContentHasher = (bytes: Uint8Array) => string | Promise<string>;

let hasher: ContentHasher = (bytes) => toHex(sha256(bytes));

export function setContentHasher(h: ContentHasher): void {
  hasher = h;
}

export async function contentHash(bytes: Uint8Array): Promise<string> {
  return hasher(bytes);
}
