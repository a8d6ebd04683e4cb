// On Node, content hashes use OpenSSL's SHA-256 (GB/s, not the portable ~100 MB/s).
import { createHash } from 'node:crypto';
import { setContentHasher } from '../shared/hash.js';

export function installNodeHasher(): void {
  setContentHasher((bytes) => createHash('sha256').update(bytes).digest('hex'));
}
