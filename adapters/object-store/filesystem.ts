import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, copyFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import type { ObjectStore } from '../../core/ports.ts';
import { isProcessAlive } from '../../core/process.ts';

const TMP_DIR = '.tmp';


/**
 * The object store on a local filesystem. Writes go to a temp file in the same filesystem,
 * are fsynced, then renamed into place: readers see the old object or the new one, never half.
 */
export class FilesystemObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (!p.startsWith(this.root + sep) || key.split('/').includes(TMP_DIR)) {
      throw new OrreryError(ErrorIds.STORAGE_WRITE, `Object key "${key}" escapes the store or uses a reserved name.`, { key });
    }
    return p;
  }

  /** Temp names carry the writer's pid so a sweep can tell abandoned ones from live ones. */
  private tempPath(hint: string): string {
    const safe = hint.replace(/[^A-Za-z0-9_.-]/g, '_').slice(-80);
    return join(this.root, TMP_DIR, `${process.pid}-${randomBytes(6).toString('hex')}-${safe}`);
  }

  async put(key: string, bytes: Uint8Array | string): Promise<{ uri: string; size: number }> {
    const final = this.path(key);
    const tmp = this.tempPath(key);
    await mkdir(dirname(tmp), { recursive: true });
    await mkdir(dirname(final), { recursive: true });
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new OrreryError(ErrorIds.STORAGE_WRITE, `Could not store ${key}: ${(e as Error).message}.`, { key });
    }
    return { uri: final, size: typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength };
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      throw new OrreryError(ErrorIds.STORAGE_READ, `Object ${key} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); rematerialize it.`, { key });
    }
  }

  async exists(key: string): Promise<boolean> {
    try { await stat(this.path(key)); return true; } catch { return false; }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<string> {
    const walk = async function* (dir: string, root: string): AsyncIterable<string> {
      let entries;
      try { entries = await readdir(dir, { withFileTypes: true }); } catch { return; }
      for (const e of entries) {
        if (e.name === TMP_DIR) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) yield* walk(p, root);
        else yield relative(root, p).split(sep).join('/');
      }
    };
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    for await (const k of walk(join(this.root, base), this.root)) if (k.startsWith(prefix)) yield k;
  }

  uri(key: string): string {
    return this.path(key);
  }

  scratchUri(hint: string): string {
    return this.tempPath(hint);
  }

  async adopt(fromUri: string, key: string): Promise<{ uri: string; size: number }> {
    const final = this.path(key);
    await mkdir(dirname(final), { recursive: true });
    const size = (await stat(fromUri)).size;
    if (resolve(fromUri).startsWith(join(this.root, TMP_DIR) + sep)) {
      await rename(fromUri, final);
    } else {
      // Outside our temp area the file may be on another filesystem: copy to temp, then rename.
      const tmp = this.tempPath(key);
      await mkdir(dirname(tmp), { recursive: true });
      await copyFile(fromUri, tmp);
      await rename(tmp, final);
    }
    return { uri: final, size };
  }

  /** Removes temp files left by processes that died mid-write. */
  async sweepAbandoned(): Promise<number> {
    let removed = 0;
    let names: string[];
    try { names = await readdir(join(this.root, TMP_DIR)); } catch { return 0; }
    for (const name of names) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !isProcessAlive(pid)) {
        await unlink(join(this.root, TMP_DIR, name)).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }

  /** Streams an object (for large exports). */
  stream(key: string): NodeJS.ReadableStream {
    return createReadStream(this.path(key));
  }
}
