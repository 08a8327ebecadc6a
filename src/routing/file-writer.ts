/**
 * Appends batches to a local file as JSON lines (one `OutRecord.data` per line), rotating by size:
 * `path` -> `path.1` -> ... -> `path.<keep>` (the oldest beyond `keep` is removed). A rotation happens
 * between lines, never inside one, so every rotated file holds whole records.
 *
 * fsync policy: `always` syncs after every line, `batch` (default) once per batch, `never` leaves it to the OS.
 */
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileTargetSpec } from '../spec/types.js';
import { TargetWriteError } from './errors.js';
import { errorMessage, type OutRecord, type TargetWriter, type WriterHealth } from './types.js';

/** The default fsync policy. */
export const DEFAULT_FILE_FSYNC = 'batch';

export class FileWriter implements TargetWriter {
  private lastError: string | undefined;

  private constructor(
    private readonly name: string,
    private readonly spec: FileTargetSpec,
    private fh: FileHandle,
    private size: number,
  ) {}

  /** Opens (creating parent directories) `spec.path` for appending. */
  static async create(name: string, spec: FileTargetSpec): Promise<FileWriter> {
    try {
      await mkdir(dirname(spec.path), { recursive: true });
      const fh = await open(spec.path, 'a');
      const { size } = await fh.stat();
      return new FileWriter(name, spec, fh, size);
    } catch (err) {
      throw new TargetWriteError(name, `cannot open ${spec.path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Appends every record as one line, rotating before a line that would pass `rotate.maxBytes`. */
  async write(batch: readonly OutRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const policy = this.spec.fsync ?? DEFAULT_FILE_FSYNC;
    const maxBytes = this.spec.rotate?.maxBytes;
    try {
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      for (const r of batch) {
        const line = Buffer.from(`${r.data}\n`, 'utf8');
        if (
          maxBytes !== undefined &&
          this.size + chunkBytes > 0 &&
          this.size + chunkBytes + line.length > maxBytes
        ) {
          await this.append(chunk, chunkBytes, policy !== 'never');
          chunk = [];
          chunkBytes = 0;
          await this.rotate();
        }
        if (policy === 'always') {
          await this.append([line], line.length, true);
        } else {
          chunk.push(line);
          chunkBytes += line.length;
        }
      }
      await this.append(chunk, chunkBytes, policy === 'batch');
      this.lastError = undefined;
    } catch (err) {
      this.lastError = errorMessage(err);
      throw new TargetWriteError(this.name, `append to ${this.spec.path} failed: ${this.lastError}`, {
        cause: err,
      });
    }
  }

  private async append(chunk: Buffer[], bytes: number, sync: boolean): Promise<void> {
    if (bytes === 0) return;
    const buf = chunk.length === 1 ? (chunk[0] as Buffer) : Buffer.concat(chunk, bytes);
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.size += buf.length;
    if (sync) await this.fh.sync();
  }

  /** Shifts `path.i` to `path.i+1` (dropping what passes `keep`), moves `path` to `path.1`, reopens `path`. */
  private async rotate(): Promise<void> {
    const keep = this.spec.rotate?.keep ?? 0;
    const path = this.spec.path;
    await this.fh.sync();
    await this.fh.close();
    try {
      if (keep <= 0) {
        await rm(path, { force: true });
      } else {
        await rm(`${path}.${keep}`, { force: true });
        for (let i = keep - 1; i >= 1; i--) await renameIfExists(`${path}.${i}`, `${path}.${i + 1}`);
        await rename(path, `${path}.1`);
      }
    } finally {
      // Reopen even when a rename failed, so the writer stays usable and the retry appends to `path`.
      this.fh = await open(path, 'a');
      this.size = (await this.fh.stat()).size;
    }
  }

  /** Connected unless the last write failed. */
  health(): WriterHealth {
    return this.lastError ? { connected: false, detail: this.lastError } : { connected: true };
  }

  /** Syncs and closes the file. */
  async close(): Promise<void> {
    try {
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
