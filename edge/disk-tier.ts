// The edge node's spill tier: one file per object in a folder, named by the
// object's hex id. A write goes to a temp name (dot-prefixed, so list() never
// sees it), is flushed, then renamed over the real name: a crash leaves either
// the whole file or none under the real name, never half of one.
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isHexId, OBJECT_ID_BYTES, type ObjectId } from '../shared/ids.js';
import { TabmeshError } from '../shared/errors.js';
import type { SpillTier } from '../shared/node/store.js';

let tempSeq = 0;

export class DiskTier implements SpillTier {
  readonly dir: string;
  private readonly ready: Promise<unknown>;

  constructor(dir: string) {
    this.dir = dir;
    this.ready = mkdir(dir, { recursive: true });
    // Reported by the first operation that awaits it, not as an unhandled rejection.
    this.ready.catch(() => {});
  }

  async put(id: ObjectId, bytes: Uint8Array): Promise<void> {
    const file = this.file(id);
    await this.ready;
    const temp = join(this.dir, `.${id}.${process.pid}.${++tempSeq}.tmp`);
    try {
      const fh = await open(temp, 'w');
      try {
        let off = 0;
        while (off < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, off, bytes.byteLength - off);
          off += bytesWritten;
        }
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }

  async get(id: ObjectId): Promise<Uint8Array | undefined> {
    const file = this.file(id);
    await this.ready;
    try {
      const buf = await readFile(file);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async read(id: ObjectId, offset: number, length: number): Promise<Uint8Array | undefined> {
    const file = this.file(id);
    await this.ready;
    let fh;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, got);
    } finally {
      await fh.close();
    }
  }

  async delete(id: ObjectId): Promise<void> {
    const file = this.file(id);
    await this.ready;
    try {
      await unlink(file);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Ids of the complete files present (temp files and anything else ignored). */
  async list(): Promise<ObjectId[]> {
    await this.ready;
    const names = await readdir(this.dir);
    return names.filter((n) => isHexId(n, OBJECT_ID_BYTES)) as ObjectId[];
  }

  /** The object's path; the id is checked so it can never name a file elsewhere. */
  private file(id: ObjectId): string {
    if (!isHexId(id, OBJECT_ID_BYTES)) {
      throw new TabmeshError('BAD_ARGUMENT', `not an object id: ${String(id).slice(0, 64)}`);
    }
    return join(this.dir, id);
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ENOENT';
}
