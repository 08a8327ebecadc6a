/** Keeps only the last `maxBytes` of a byte stream (stdout/stderr tails of scripts). */

export class TailBuffer {
  private chunks: Buffer[] = [];
  private total = 0;
  private dropped = false;

  constructor(private readonly maxBytes: number) {}

  /** Adds a chunk, dropping the oldest bytes beyond the cap. */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
    while (this.chunks.length > 1 && this.total - (this.chunks[0] as Buffer).length >= this.maxBytes) {
      this.total -= (this.chunks.shift() as Buffer).length;
      this.dropped = true;
    }
  }

  /** True when bytes were dropped from the front. */
  get truncated(): boolean {
    return this.dropped || this.total > this.maxBytes;
  }

  /** The last `maxBytes` bytes as UTF-8, starting at a character boundary. */
  text(): string {
    let buf = Buffer.concat(this.chunks);
    if (buf.length > this.maxBytes) buf = buf.subarray(buf.length - this.maxBytes);
    let start = 0;
    // Skip UTF-8 continuation bytes (10xxxxxx) left by the cut.
    while (start < buf.length && start < 4 && ((buf[start] as number) & 0xc0) === 0x80) start += 1;
    return buf.toString('utf8', start);
  }
}
