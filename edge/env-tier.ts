// An edge node's runtime env artifacts on disk (issue 16): one file per
// artifact, named by its content hash, in `<spill dir>/env`, so that a
// restarted node does not fetch them again. Same crash-safe write as the spill
// tier (temp file, then rename); what is read back is hash-checked by the cache.
import { mkdir, readFile, rename, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvTier } from '../shared/node/env-cache.js';

const HASH_RE = /^[0-9a-f]{16,128}$/;

export class DiskEnvTier implements EnvTier {
  readonly label = 'disk';
  private readonly ready: Promise<unknown>;

  constructor(readonly dir: string) {
    this.ready = mkdir(dir, { recursive: true });
    this.ready.catch(() => {});
  }

  async get(hash: string): Promise<Uint8Array | undefined> {
    await this.ready;
    try {
      const buf = await readFile(this.file(hash));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    await this.ready;
    const file = this.file(hash);
    const temp = join(this.dir, `.${hash}.${process.pid}.tmp`);
    try {
      await writeFile(temp, bytes);
      await rename(temp, file);
    } catch (e) {
      await unlink(temp).catch(() => {});
      throw e;
    }
  }

  /** The hash is checked so that it can never name a file elsewhere. */
  private file(hash: string): string {
    if (!HASH_RE.test(hash)) throw new Error(`not a content hash: ${hash.slice(0, 80)}`);
    return join(this.dir, hash);
  }
}
