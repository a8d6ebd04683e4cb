// An edge node's runtime env artifacts on disk (issue 16): one file per
// artifact, named by its content hash, in `<spill dir>/env`, so that a
// restarted node does not fetch them again. Same crash-safe write as the spill
// tier (temp file, then rename); what is read back is hash-checked by the cache.
// A read sets the file's times, so that the cache's LRU order survives a restart.
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
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
      const file = this.file(hash);
      const buf = await readFile(file);
      const now = new Date();
      await utimes(file, now, now).catch(() => {});
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

  async delete(hash: string): Promise<void> {
    await unlink(this.file(hash)).catch((e: { code?: string }) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async list(): Promise<{ hash: string; size: number }[]> {
    await this.ready;
    const out: { hash: string; size: number; at: number }[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!HASH_RE.test(name)) continue; // temp files of a crashed write
      const st = await stat(join(this.dir, name)).catch(() => null);
      if (st?.isFile()) out.push({ hash: name, size: st.size, at: st.mtimeMs });
    }
    return out.sort((a, b) => a.at - b.at).map(({ hash, size }) => ({ hash, size }));
  }

  /** The hash is checked so that it can never name a file elsewhere. */
  private file(hash: string): string {
    if (!HASH_RE.test(hash)) throw new Error(`not a content hash: ${hash.slice(0, 80)}`);
    return join(this.dir, hash);
  }
}
