// Tokens kept in the data folder (issue 8): the driver token (`token`), the
// join token of a private mesh (`join-token`) and an optional viewer token
// (`viewer-token`), one a file, mode 0600. `tabmesh token rotate` replaces
// one; a coordinator running from that folder picks it up within a second
// (coordinator/auth/tokens.ts). Open sessions stay open.
import { parseFlags } from './flags.js';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TOKEN_FILES, type TokenKind } from '../coordinator/auth/tokens.js';

export const TOKEN_USAGE = `  tabmesh token rotate [--data .tabmesh] [--kind driver|join|viewer]
                 (a new token in the data folder; a running coordinator takes it within a second)`;

/** 32 base64url characters, never starting with '-' (`--token -x…` reads as a flag to any command-line parser). */
export function newToken(): string {
  for (;;) {
    const t = randomBytes(24).toString('base64url');
    if (t[0] !== '-') return t;
  }
}

/** Writes a token file atomically (a watcher never reads half a token). */
export function writeToken(dataDir: string, kind: TokenKind, token: string): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, TOKEN_FILES[kind]);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, token + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function readToken(dataDir: string, kind: TokenKind): string | undefined {
  const file = join(dataDir, TOKEN_FILES[kind]);
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim() || undefined;
}

/** The token of `kind`: given, else the one stored in the data folder, else a new one (stored unless `memory`). */
export function resolveToken(kind: TokenKind, given: string | undefined, dataDir: string, memory: boolean): string {
  if (given) return given;
  const stored = memory ? undefined : readToken(dataDir, kind);
  if (stored) return stored;
  const token = newToken();
  if (!memory) writeToken(dataDir, kind, token);
  return token;
}

/** `tabmesh token rotate`: prints the new token (the operator's terminal is where it is meant to go). */
export function runToken(args: string[], usage: (msg?: string) => never): number {
  const [sub, ...rest] = args;
  if (sub !== 'rotate') usage(sub ? `unknown token command '${sub}'` : 'token needs a command: rotate');
  const { values } = parseFlags('token', {
    args: rest,
    options: { data: { type: 'string', default: '.tabmesh' }, kind: { type: 'string', default: 'driver' } },
    strict: true,
    allowPositionals: false,
  });
  const kind = values.kind as TokenKind;
  if (!(kind in TOKEN_FILES)) usage(`--kind must be driver, join or viewer, not ${values.kind}`);
  const token = newToken();
  writeToken(values.data, kind, token);
  console.log(`new ${kind} token in ${join(values.data, TOKEN_FILES[kind])}: ${token}`);
  console.log('a coordinator running from this folder uses it within a second; connections already open stay open');
  return 0;
}
