import { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { type BodyTaker, bodyIncomplete, bodyTimeout, type PushBody } from './incoming.js'

/**
 * Make a fully read `node:http` request readable again, yielding `bytes`, so body parsers that
 * run after verification (express.json(), multer, raw `req.on('data')`) see the original body.
 * The request keeps its identity (frameworks hand the same object down the chain); only its
 * readable state is replaced by a fresh one holding the bytes.
 */
export async function replayBody(req: Readable & { closed?: boolean }, bytes: Uint8Array): Promise<void> {
  await replayBodyNow(req, bytes)
}

/**
 * {@link replayBody}, done synchronously when it can be (the old state has already closed):
 * `undefined` then, else a promise.
 */
export function replayBodyNow(req: Readable & { closed?: boolean }, bytes: Uint8Array): Promise<void> | undefined {
  // The old state emits `close` on a nextTick after `end`; let that happen before swapping so it
  // cannot mark the fresh state closed (which would suppress its `end`).
  if (!req.closed) return new Promise<void>((r) => setImmediate(r)).then(() => swapState(req, bytes))
  swapState(req, bytes)
  return undefined
}

function noRead(): void {}

function swapState(req: Readable, bytes: Uint8Array): void {
  const fresh = new Readable({ read: noRead }) as unknown as { _readableState: unknown }
  const target = req as unknown as { _readableState: unknown; _read: () => void }
  target._readableState = fresh._readableState
  target._read = noRead
  if (bytes.byteLength) req.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  req.push(null)
  // Fail loudly rather than hand the app an empty body if a future Node changes stream internals.
  if (!req.readable && bytes.byteLength > 0) throw new Error('could not make the request body readable again')
}

/** A read in progress: where its chunks go and how it ends. Kept on the stream, so the listeners are shared. */
interface Feeding {
  sink: BodyTaker
  resolve: () => void
  reject: (e: unknown) => void
  stream: Fed
  /** Its place in the deadline queue of its duration (see {@link Deadlines}), when it has one. */
  queue: Deadlines | undefined
  at: number
  prev: Feeding | undefined
  next: Feeding | undefined
}

/**
 * The reads in progress with the same deadline duration, oldest first (their deadlines come in
 * the order they started), and one timer for the oldest. A read that ends unlinks itself; the
 * timer, when it fires, times out every read past its deadline and is set again for the next one.
 * So a body costs no timer of its own: Node's `setTimeout` + `clearTimeout` per request (a
 * `Timeout`, the timer list, re-referencing the loop's timer handle) was a measurable part of a
 * small request's cost.
 */
interface Deadlines {
  ms: number
  head: Feeding | undefined
  tail: Feeding | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

const deadlines = new Map<number, Deadlines>()
// Monotonic milliseconds (a wall clock step must not time out or extend a read).
const clock = (): number => performance.now()

function enqueue(f: Feeding, ms: number): void {
  let q = deadlines.get(ms)
  if (q === undefined) {
    q = { ms, head: undefined, tail: undefined, timer: undefined }
    deadlines.set(ms, q)
  }
  f.queue = q
  f.at = clock() + ms
  f.prev = q.tail
  if (q.tail) q.tail.next = f
  else q.head = f
  q.tail = f
  // Unreferenced: the connection the body arrives on keeps the process alive while it is read.
  if (q.timer === undefined) q.timer = setTimeout(onDeadline, ms, q).unref()
}

function dequeue(f: Feeding): void {
  const q = f.queue
  if (q === undefined) return
  if (f.prev) f.prev.next = f.next
  else q.head = f.next
  if (f.next) f.next.prev = f.prev
  else q.tail = f.prev
  f.queue = f.prev = f.next = undefined
}

function onDeadline(q: Deadlines): void {
  q.timer = undefined
  const now = clock()
  for (let f = q.head; f !== undefined && f.at <= now; f = q.head) stopFeeding(f.stream, f, bodyTimeout(q.ms), true)
  if (q.head) q.timer = setTimeout(onDeadline, Math.max(1, Math.ceil(q.head.at - now)), q).unref()
}

const FEEDING = Symbol('sigil.feeding')
type Fed = Readable & { [FEEDING]?: Feeding | undefined }

function stopFeeding(stream: Fed, f: Feeding, err: unknown, pause: boolean): void {
  stream[FEEDING] = undefined
  dequeue(f)
  stream.off('data', onFedData).off('end', onFedEnd).off('error', onFedError).off('close', onFedClose)
  // Left paused and undestroyed, as an abandoned iterator leaves a request (autoDestroy is off
  // for IncomingMessage): the adapter can still answer 413 on it.
  if (pause) stream.pause()
  if (err === undefined) f.resolve()
  else f.reject(err)
}

// Module-level listeners (`this` is the stream): a read costs no closure per request.
function onFedData(this: Fed, chunk: Uint8Array | string): void {
  const f = this[FEEDING]
  if (!f) return
  try {
    f.sink.take(chunk)
  } catch (e) {
    stopFeeding(this, f, e, true)
  }
}
function onFedEnd(this: Fed): void {
  const f = this[FEEDING]
  if (f) stopFeeding(this, f, undefined, false)
}
function onFedError(this: Fed, e: unknown): void {
  const f = this[FEEDING]
  if (f) stopFeeding(this, f, bodyIncomplete(e ?? new Error('request stream failed')), false)
}
function onFedClose(this: Fed): void {
  // A close before `end`: the client went away mid-body (as `finished()` reports it).
  const f = this[FEEDING]
  if (f) stopFeeding(this, f, bodyIncomplete(prematureClose()), false)
}
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })
}

/**
 * Take what a fully received node request holds, synchronously: `complete` says the parser saw
 * its end, so every byte is in the readable buffer (or was read by someone else). False when the
 * stream must be waited for.
 */
function drainComplete(stream: Fed, sink: BodyTaker): boolean {
  if (!(stream instanceof IncomingMessage) || !stream.complete || stream.readableFlowing === true || stream.destroyed) return false
  for (let chunk = stream.read() as Uint8Array | string | null; chunk !== null; chunk = stream.read() as Uint8Array | string | null) {
    try {
      sink.take(chunk)
    } catch (e) {
      stream.pause()
      throw e
    }
  }
  // The parser set `complete` right before it pushed the end: read() returning null means every
  // byte has been taken, and the stream emits `end` on the next tick.
  return true
}

class NodePushBody implements PushBody {
  constructor(private readonly stream: Fed) {}
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  }
  feed(sink: BodyTaker, deadlineMs?: number): Promise<void> | undefined {
    const stream = this.stream
    if (stream.readableEnded) return undefined
    if (drainComplete(stream, sink)) return undefined
    if (stream.destroyed) return Promise.reject(bodyIncomplete(prematureClose()))
    if (stream[FEEDING]) return Promise.reject(new Error('the request body is already being read'))
    return new Promise<void>((resolve, reject) => {
      const f: Feeding = { sink, resolve, reject, stream, queue: undefined, at: 0, prev: undefined, next: undefined }
      stream[FEEDING] = f
      // The deadline joins the queue of its duration: no timer, no closure of its own.
      if (deadlineMs !== undefined) enqueue(f, deadlineMs)
      stream.on('data', onFedData).on('end', onFedEnd).on('error', onFedError).on('close', onFedClose)
      stream.resume()
    })
  }
}

/**
 * A request body for the verifier, read with `data` events straight into the digest: one promise
 * per body (none when the request was already received whole), no closure per chunk or request,
 * the deadline kept by the read itself (one timer per deadline duration, see {@link Deadlines}).
 * It is still an async iterable of the request for anyone who pulls. Errors and early closes
 * reject as iterating `req` would; when the digest refuses a chunk (size limit) the request is
 * paused, as an abandoned iterator of it would leave it.
 */
export function pushBody(stream: Readable): PushBody {
  return new NodePushBody(stream as Fed)
}
