import { finished, Readable } from 'node:stream'
import type { PushBody } from './incoming.js'

/** Bytes read from a request while it was verified, so the app can read them again. */
export interface Retained {
  parts: Uint8Array[]
  bytes: number
  /** True once the verifier read the stream to its end. */
  complete: boolean
}

/**
 * Chunks of a Node stream, read with `data` events and backpressure, leaving no listener behind
 * and not destroying the stream on early exit (an async iterator over `req` would). Each chunk is
 * also appended to `keep`.
 */
export function readChunks(stream: Readable, keep: Retained): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const queue: Uint8Array[] = []
      let ended = false
      let failure: unknown
      let wake: (() => void) | undefined
      const onData = (c: Uint8Array | string) => {
        const chunk = typeof c === 'string' ? Buffer.from(c) : c
        queue.push(chunk)
        keep.parts.push(chunk)
        keep.bytes += chunk.byteLength
        stream.pause()
        wake?.()
      }
      const onEnd = () => {
        ended = true
        wake?.()
      }
      const onError = (e: unknown) => {
        failure = e ?? new Error('request stream closed early')
        wake?.()
      }
      const onClose = () => {
        if (!ended) onError(new Error('request stream closed before its end'))
      }
      stream.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
      const cleanup = () => {
        stream.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
      }
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          for (;;) {
            const c = queue.shift()
            if (c) return { value: c, done: false }
            if (failure !== undefined) {
              cleanup()
              throw failure
            }
            if (ended) {
              cleanup()
              keep.complete = true
              return { value: undefined, done: true }
            }
            const waiting = new Promise<void>((r) => {
              wake = r
            })
            stream.resume()
            await waiting
            wake = undefined
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          cleanup()
          return { value: undefined, done: true }
        },
      }
    },
  }
}

/** The retained chunks as one buffer. */
export function joinRetained(keep: Retained): Buffer {
  return keep.parts.length === 1 ? Buffer.from(keep.parts[0] as Uint8Array) : Buffer.concat(keep.parts, keep.bytes)
}

/**
 * Make a fully read `node:http` request readable again, yielding `bytes`, so body parsers that
 * run after verification (express.json(), multer, raw `req.on('data')`) see the original body.
 * The request keeps its identity (frameworks hand the same object down the chain); only its
 * readable state is replaced by a fresh one holding the bytes.
 */
export async function replayBody(req: Readable & { closed?: boolean }, bytes: Uint8Array): Promise<void> {
  // The old state emits `close` on a nextTick after `end`; let that happen before swapping so it
  // cannot mark the fresh state closed (which would suppress its `end`).
  if (!req.closed) await new Promise<void>((r) => setImmediate(r))
  const fresh = new Readable({ read() {} }) as unknown as { _readableState: unknown }
  const target = req as unknown as { _readableState: unknown; _read: () => void }
  target._readableState = fresh._readableState
  target._read = () => {}
  if (bytes.byteLength) req.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  req.push(null)
  // Fail loudly rather than hand the app an empty body if a future Node changes stream internals.
  if (!req.readable && bytes.byteLength > 0) throw new Error('could not make the request body readable again')
}

/**
 * A request body for the verifier that is read with `data` events straight into the digest (no
 * promise per chunk), and is still an async iterable of the request for anyone who pulls. Errors
 * and early closes reject exactly as iterating `req` would; when the digest refuses a chunk (size
 * limit) the request is paused, as an abandoned iterator of it would leave it.
 */
export function pushBody(stream: Readable): PushBody {
  return {
    [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
    feed(take) {
      return new Promise<void>((resolve, reject) => {
        let settled = false
        const settle = (err: unknown, stop: boolean) => {
          if (settled) return
          settled = true
          stream.off('data', onData)
          stopWatching()
          // Left paused and undestroyed, as an abandoned iterator leaves a request (autoDestroy is
          // off for IncomingMessage): the adapter can still answer 413 on it.
          if (stop) stream.pause()
          if (err) reject(err)
          else resolve()
        }
        const onData = (chunk: Uint8Array | string) => {
          try {
            take(chunk)
          } catch (e) {
            settle(e, true)
          }
        }
        // `finished` reports the end, a stream error and a premature close like the iterator does.
        const stopWatching = finished(stream, { writable: false }, (err) => settle(err ?? null, false))
        stream.on('data', onData)
        stream.resume()
      })
    },
  }
}
