/**
 * Splits a byte stream into lines as the bytes arrive, with a cap on one line's length, so a
 * process's output is reported line by line without ever holding more than one line.
 * @internal used by `index.ts`.
 */

/** The longest line reported, in bytes: 64 KiB. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Feeds `onLine` each complete line (UTF-8, without `\n` and a trailing `\r`). A line longer than
 * `maxBytes` is cut at a character boundary at or before `maxBytes`, suffixed
 * `… [truncated <n> bytes]`, and the rest of it up to the next newline is dropped.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  private truncated = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      this.append(chunk.subarray(start, newline === -1 ? chunk.length : newline));
      if (newline === -1) return;
      this.emit();
      start = newline + 1;
    }
  }

  /** Reports a last line that had no newline. */
  end(): void {
    if (this.size > 0 || this.truncated) this.emit();
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.truncated) {
      this.dropped += piece.length;
      return;
    }
    const room = this.maxBytes - this.size;
    if (piece.length <= room) {
      this.parts.push(piece);
      this.size += piece.length;
      return;
    }
    let cut = room;
    while (cut > 0 && (piece[cut] & 0xc0) === 0x80) cut--; // do not split a UTF-8 sequence
    this.parts.push(piece.subarray(0, cut));
    this.size += cut;
    this.dropped += piece.length - cut;
    this.truncated = true;
  }

  private emit(): void {
    let line = Buffer.concat(this.parts, this.size).toString("utf8");
    if (this.truncated) line += `… [truncated ${this.dropped} bytes]`;
    else if (line.endsWith("\r")) line = line.slice(0, -1);
    this.parts = [];
    this.size = 0;
    this.dropped = 0;
    this.truncated = false;
    this.onLine(line);
  }
}
