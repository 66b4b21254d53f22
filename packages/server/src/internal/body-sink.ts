import type { DigestAlgorithm } from '@sigil/core'
import { createDigester, type Digester, toBytes } from '@sigil/core/internal'
import type { BodyTaker } from './incoming.js'

/**
 * The body as the verifier reads it (SPEC §2 step 7): core's digester counts every chunk against
 * the size limit and hashes it with each algorithm the `Content-Digest` declares; the bytes are
 * kept when the result carries them. One object per request, no closure: adapters call `take`
 * from their own event handlers. The kept bytes are the first chunk as is (the usual single-chunk
 * body costs no copy) or one buffer sized from Content-Length when more chunks follow.
 */
const EMPTY = new Uint8Array(0)

export class BodySink implements BodyTaker {
  private bytes = 0
  private chunks = 0
  private first: Uint8Array | undefined
  private readonly digester: Digester
  private kept: Uint8Array | undefined
  private buf: Uint8Array | undefined
  constructor(
    algorithms: readonly DigestAlgorithm[],
    private readonly max: number,
    /** Whether the bytes are kept for the result. */
    readonly retain: boolean,
    private readonly expected: number | undefined,
  ) {
    this.digester = createDigester({ algorithms, maxBytes: max })
  }
  take(raw: Uint8Array | string): void {
    const chunk = typeof raw === 'string' ? toBytes(raw) : raw
    this.digester.take(chunk)
    if (chunk.byteLength > 0 && this.chunks++ === 0) this.first = chunk
    const before = this.bytes
    const total = before + chunk.byteLength
    this.bytes = total
    if (!this.retain || chunk.byteLength === 0) return
    if (before === 0) {
      this.kept = chunk
      return
    }
    let buf = this.buf
    if (buf === undefined || buf.byteLength < total) {
      // Content-Length when it holds the bytes (node:http enforces it), else double.
      const size = this.expected !== undefined && this.expected >= total ? this.expected : Math.max(total, 2 * before)
      const grown = new Uint8Array(Math.min(size, this.max))
      grown.set(buf === undefined ? (this.kept as Uint8Array) : buf.subarray(0, before))
      this.buf = buf = grown
    }
    buf.set(chunk, before)
  }
  /** Bytes taken so far. */
  get received(): number {
    return this.bytes
  }
  /** The digests of what was taken, by algorithm. */
  digests(): Map<DigestAlgorithm, Uint8Array> {
    return this.digester.result().digests
  }
  /** The whole body when it came as at most one non-empty chunk (empty when none), else undefined. */
  single(): Uint8Array | undefined {
    return this.chunks === 0 ? EMPTY : this.chunks === 1 ? this.first : undefined
  }
  /** The bytes taken (when retained). */
  body(): Uint8Array {
    if (this.buf !== undefined) return this.bytes === this.buf.byteLength ? this.buf : this.buf.subarray(0, this.bytes)
    return this.kept ?? new Uint8Array(0)
  }
}
