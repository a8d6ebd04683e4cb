// Content hashes of objects (checked on every transfer). Synchronous, so that
// announcing an object never reorders it behind later messages. The portable
// default is SHA-256 in JS (~100 MB/s); Node installs OpenSSL's (edge/node-hash.ts).
import { sha256 } from '@noble/hashes/sha2';
import { toHex } from './ids.js';

export type ContentHasher = (bytes: Uint8Array) => string;

let hasher: ContentHasher = (bytes) => toHex(sha256(bytes));

export function setContentHasher(h: ContentHasher): void {
  hasher = h;
}

export function contentHash(bytes: Uint8Array): string {
  return hasher(bytes);
}
