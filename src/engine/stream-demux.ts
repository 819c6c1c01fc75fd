/**
 * Pure helpers for a container's output: the Engine API's multiplexed attach stream, and two
 * bounded buffers (a stdout collector with a hard limit, a stderr tail). No I/O.
 *
 * Wire format (Tty false): each frame is an 8-byte header — stream type (0 stdin, 1 stdout,
 * 2 stderr, 3 engine error), three zero bytes, payload length as uint32 big-endian — then the
 * payload. Chunks from the socket split frames anywhere, headers included.
 */

export type StreamType = 0 | 1 | 2 | 3;

const HEADER_BYTES = 8;

/**
 * Incremental demultiplexer. Payload bytes are passed on as soon as they arrive, in pieces, rather
 * than after a whole frame: a frame header may announce up to 4 GiB, and the limits downstream must
 * be able to act before that much is buffered. Only a partial header (under 8 bytes) is held back.
 */
export class StreamDemuxer {
  readonly #onPayload: (stream: StreamType, piece: Buffer) => void;
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #stream: StreamType = 1;
  /** Payload bytes still expected for the current frame; 0 means a header comes next. */
  #remaining = 0;

  constructor(onPayload: (stream: StreamType, piece: Buffer) => void) {
    this.#onPayload = onPayload;
  }

  /** Feeds one chunk. Throws if a header is malformed (the stream is then unusable). */
  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - offset);
        this.#remaining -= take;
        this.#onPayload(this.#stream, chunk.subarray(offset, offset + take));
        offset += take;
        continue;
      }
      const take = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - offset);
      chunk.copy(this.#header, this.#headerFill, offset, offset + take);
      this.#headerFill += take;
      offset += take;
      if (this.#headerFill === HEADER_BYTES) this.#startFrame();
    }
  }

  /** True when the stream stopped between frames, i.e. nothing was cut off mid-frame. */
  get atFrameBoundary(): boolean {
    return this.#headerFill === 0 && this.#remaining === 0;
  }

  #startFrame(): void {
    const type = this.#header[0];
    // Bytes 1-3 are always zero; anything else means we lost sync (or the container has a TTY,
    // whose raw stream has no headers), and reading further would mislabel arbitrary bytes.
    if (type === undefined || type > 3 || this.#header.readUIntBE(1, 3) !== 0) {
      throw new Error(`malformed attach stream frame header ${this.#header.toString('hex')}`);
    }
    this.#stream = type as StreamType;
    this.#remaining = this.#header.readUInt32BE(4);
    this.#headerFill = 0;
  }
}

/** Keeps the first `limit` bytes; anything beyond is dropped and marks the collector overflowed. */
export class BoundedCollector {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #overflowed = false;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
    this.#limit = limit;
  }

  /**
   * Returns true exactly once: for the push that first took the total over the limit, so the
   * caller reacts (kills the container) a single time however much more arrives.
   */
  push(chunk: Buffer): boolean {
    if (this.#overflowed) return false;
    const room = this.#limit - this.#kept;
    if (chunk.length <= room) {
      this.#keep(chunk);
      return false;
    }
    this.#keep(chunk.subarray(0, room));
    this.#overflowed = true;
    return true;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  get value(): Buffer {
    return Buffer.concat(this.#chunks, this.#kept);
  }

  #keep(piece: Buffer): void {
    if (piece.length === 0) return;
    // Copy: pieces are views into socket chunks, and keeping a view would pin the whole chunk.
    this.#chunks.push(Buffer.from(piece));
    this.#kept += piece.length;
  }
}

/** Keeps only the last `limit` bytes seen; memory stays within about limit plus one chunk. */
export class TailBuffer {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #truncated = false;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
    this.#limit = limit;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const piece = chunk.length > this.#limit ? chunk.subarray(chunk.length - this.#limit) : chunk;
    if (piece.length < chunk.length) this.#truncated = true;
    if (piece.length > 0) {
      this.#chunks.push(Buffer.from(piece));
      this.#kept += piece.length;
    }
    this.#dropExcess();
  }

  /** True once any byte has been dropped. */
  get truncated(): boolean {
    return this.#truncated;
  }

  get value(): Buffer {
    return Buffer.concat(this.#chunks, this.#kept);
  }

  #dropExcess(): void {
    while (this.#kept > this.#limit) {
      const first = this.#chunks[0];
      if (first === undefined) break;
      const excess = this.#kept - this.#limit;
      this.#truncated = true;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#kept -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#kept -= excess;
      }
    }
  }
}

/**
 * A container's output as the limits allow: the demultiplexed stdout capped at a hard limit, and
 * the tail of stderr. Stream 3 (engine diagnostics) is kept with stderr, as text for a human.
 */
export class OutputCapture {
  readonly #stdout: BoundedCollector;
  readonly #stderr: TailBuffer;
  readonly #demuxer: StreamDemuxer;

  constructor(
    limits: { readonly stdoutLimitBytes: number; readonly stderrLimitBytes: number },
    hooks: { readonly onStderr?: ((chunk: Buffer) => void) | undefined; readonly onOverflow: () => void },
  ) {
    this.#stdout = new BoundedCollector(limits.stdoutLimitBytes);
    this.#stderr = new TailBuffer(limits.stderrLimitBytes);
    this.#demuxer = new StreamDemuxer((stream, piece) => {
      if (stream === 2 || stream === 3) {
        this.#stderr.push(piece);
        // A copy: the piece is a view into a socket chunk the listener might keep.
        hooks.onStderr?.(Buffer.from(piece));
      } else if (this.#stdout.push(piece)) {
        hooks.onOverflow();
      }
    });
  }

  /** Feeds one chunk of the multiplexed stream; throws if the stream is malformed. */
  push(chunk: Buffer): void {
    this.#demuxer.push(chunk);
  }

  get stdout(): Buffer {
    return this.#stdout.value;
  }

  get stdoutOverflow(): boolean {
    return this.#stdout.overflowed;
  }

  get stderr(): Buffer {
    return this.#stderr.value;
  }

  get stderrTruncated(): boolean {
    return this.#stderr.truncated;
  }
}
