// The coordinator's secrets (issue 8): the driver token (submit work), the
// viewer token (read the state API and the dashboard) and the join token
// (nodes of a private mesh). Compared in constant time (both sides hashed
// first, so not even the length leaks), never logged, and replaceable while
// the coordinator runs: `tabmesh token rotate` writes a new file in the data
// folder and a running coordinator that was started from that folder reads
// it within a second. Sessions already open stay open.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';

export type TokenKind = 'driver' | 'viewer' | 'join';

/** File names in the data folder, one token a file. */
export const TOKEN_FILES: Record<TokenKind, string> = { driver: 'token', viewer: 'viewer-token', join: 'join-token' };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time equality of two secrets of any length. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string' || !expected) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

export class Tokens {
  private readonly values: Record<TokenKind, string>;
  /** Called with the kind after a token changed (for the event log; never the value). */
  onChange: (kind: TokenKind) => void = () => {};

  constructor(initial: Partial<Record<TokenKind, string>> = {}) {
    this.values = { driver: initial.driver ?? '', viewer: initial.viewer ?? '', join: initial.join ?? '' };
  }

  /** Whether a kind of token is required at all (an empty driver token means an open mesh). */
  required(kind: TokenKind): boolean {
    return this.values[kind] !== '';
  }

  set(kind: TokenKind, value: string): void {
    if (this.values[kind] === value) return;
    this.values[kind] = value;
    this.onChange(kind);
  }

  /** A driver's token: the driver token, or anything when none is set. */
  driverOk(given: string | undefined): boolean {
    return !this.required('driver') || sameSecret(given, this.values.driver);
  }

  viewerOk(given: string | undefined): boolean {
    return this.required('viewer') && sameSecret(given, this.values.viewer);
  }

  /** A node's token: the join token on a private mesh, nothing on a public one. */
  joinOk(given: string | undefined): boolean {
    return !this.required('join') || sameSecret(given, this.values.join);
  }

  /**
   * Follows the token files of a data folder: a rotated token replaces the
   * old one at once (polled each second; a missing file changes nothing).
   * Returns a function that stops watching.
   */
  watch(dataDir: string, kinds: TokenKind[], intervalMs = 1000): () => void {
    const files = kinds.map((k) => [k, join(dataDir, TOKEN_FILES[k])] as const);
    for (const [kind, file] of files) {
      const reload = () => {
        if (!existsSync(file)) return;
        const v = readFileSync(file, 'utf8').trim();
        if (v) this.set(kind, v);
      };
      watchFile(file, { interval: intervalMs, persistent: false }, reload);
    }
    return () => {
      for (const [, file] of files) unwatchFile(file);
    };
  }
}
