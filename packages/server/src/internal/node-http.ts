// node:http plumbing shared by the node, express and fastify adapters: the request view (raw
// target, Host-derived authority, streamed body) and the problem+json writer.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RequestMessage } from '@sigil/core'
import { type HeaderSource, splitTarget } from '@sigil/core/internal'
import { requestOrigin } from './authority.js'
import { framingOf, type IncomingRequest } from './incoming.js'
import { pushBody } from './node-body.js'
import type { VerifierConfig } from './options.js'
import { toProblem } from './problem.js'
import type { Verifier } from './verifier.js'

/**
 * Whether a field name as sent is `name` (lower case) in any case, as `sent.toLowerCase() ===
 * name`, without allocating a lower-case copy for each line of the same length (clients send
 * `Content-Length`, `Host`): ASCII is compared code by code, anything else falls back to
 * `toLowerCase`.
 */
function isName(sent: string, name: string): boolean {
  if (sent === name) return true
  const len = name.length
  if (sent.length !== len) return false
  for (let i = 0; i < len; i++) {
    let c = sent.charCodeAt(i)
    if (c > 0x7f) return sent.toLowerCase() === name
    if (c >= 0x41 && c <= 0x5a) c |= 0x20
    if (c !== name.charCodeAt(i)) return false
  }
  return true
}

/**
 * Header access over a Node request's raw field lines: every line of a name joined with ", "
 * (RFC 9110 §5.3), and each line for `bs`. `req.headers` is not enough: Node keeps only the first
 * line of Host, Content-Type and a few others, so a second line an app or proxy might use would
 * go unseen; and it is not touched here (Node builds it on first access).
 */
class RawHeaders implements HeaderSource {
  constructor(protected readonly raw: string[]) {}

  get(name: string): string | null {
    // The raw lines are the truth: a name that was not sent is absent, whatever a plain object
    // inherits (`constructor`, `__proto__`, `toString` are on its prototype).
    const raw = this.raw
    let value: string | null = null
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!isName(raw[i] as string, name)) continue
      value = value === null ? (raw[i + 1] as string) : `${value}, ${raw[i + 1] as string}`
    }
    return value
  }

  getAll(name: string): string[] {
    const out: string[] = []
    const raw = this.raw
    for (let i = 0; i + 1 < raw.length; i += 2) if (isName(raw[i] as string, name)) out.push(raw[i + 1] as string)
    return out
  }
}

/**
 * A Node request as the verifier reads it, in one object per request: the message view (raw path
 * and query, resolved authority), its headers (see {@link RawHeaders}) and its body. No copy of
 * the headers, no closure.
 */
export class NodeIncoming extends RawHeaders implements IncomingRequest, RequestMessage {
  readonly message: RequestMessage = this
  readonly headers: HeaderSource = this
  readonly method: string
  scheme: string
  authority: string
  path: string
  query: string
  hasBody: boolean
  mayHaveBody: boolean
  contentLength: number | undefined = undefined
  replayChecked: IncomingRequest['replayChecked'] = undefined
  retainBody = false
  /** Set once the verifier asked for the body: the stream has been read (to its end, or rejected). */
  bodyTaken = false
  private readonly source: NodeVerifyOptions['body']

  constructor(
    protected readonly req: IncomingMessage,
    cfg: VerifierConfig,
    opts: NodeVerifyOptions | undefined,
  ) {
    super(req.rawHeaders)
    this.source = opts?.body
    this.method = req.method ?? 'GET'
    const target = splitTarget(opts?.target ?? req.url ?? '/')
    this.path = target.path
    this.query = target.query
    const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true
    const h2 = req.httpVersionMajor === 2
    const connectionScheme = h2 ? (this.get(':scheme') ?? (encrypted ? 'https' : 'http')) : encrypted ? 'https' : 'http'
    const origin = requestOrigin(this, connectionScheme, this.hostLines(), h2 ? this.get(':authority') : null, target, cfg)
    this.scheme = origin.scheme
    this.authority = origin.authority
    // HTTP/1.x framing is exact (no Content-Length and no Transfer-Encoding is no body); HTTP/2 may
    // send DATA frames without Content-Length, so there the bytes decide.
    const declared = framingOf(this, !h2)
    this.hasBody = declared.hasBody
    this.mayHaveBody = declared.mayHaveBody
    this.contentLength = declared.contentLength
  }

  /** Peer address, for usage records: read only when a recorder asks. */
  get address(): string | undefined {
    return this.req.socket?.remoteAddress || undefined
  }

  /** The Host field lines (see `connectionHost`): none, one, or all of them when there are more. */
  private hostLines(): readonly string[] {
    const raw = this.raw
    let first: string | undefined
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!isName(raw[i] as string, 'host')) continue
      if (first !== undefined) return this.getAll('host')
      first = raw[i + 1] as string
    }
    return first === undefined ? NO_LINES : [first]
  }

  body(): ReturnType<IncomingRequest['body']> {
    this.bodyTaken = true
    if (this.source) return this.source()
    return this.mayHaveBody ? pushBody(this.req) : null
  }
}

const NO_LINES: readonly string[] = []

/** Header access over a Node request (see {@link NodeIncoming}). */
export function nodeHeaders(req: IncomingMessage): HeaderSource {
  return new RawHeaders(req.rawHeaders)
}

/** Options of the Node adapter. */
export interface NodeVerifyOptions {
  /** Raw request target to sign against (defaults to `req.url`; express passes `originalUrl`). */
  target?: string
  /** A body source to use instead of the request stream (e.g. bytes a framework already read). */
  body?: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array> | null
}

/** Adapt a `node:http` request: raw path and query, Host-derived authority, streamed body. */
export function incomingFromNode(req: IncomingMessage, verifier: Verifier, opts?: NodeVerifyOptions): IncomingRequest {
  return new NodeIncoming(req, verifier.config, opts)
}

/** {@link incomingFromNode} for Sigil's own adapters, which also read `retainBody` and `bodyTaken`. */
export function nodeIncoming(req: IncomingMessage, verifier: Verifier, opts?: NodeVerifyOptions): NodeIncoming {
  return new NodeIncoming(req, verifier.config, opts)
}

/**
 * Whether bytes of the request's body may still be on the connection. A rejection can be written
 * synchronously inside the `request` event (synchronous stores), before the parser has marked
 * even a body-less request `complete`: an HTTP/1.x request without Content-Length or
 * Transfer-Encoding has no body to leave unread (RFC 9112 §6.3).
 */
export function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false
  if (req.httpVersionMajor !== 1) return true
  const h = req.headers
  const length = h['content-length']
  return h['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** Write a rejection as problem+json (RFC 9457) with `Date`, `WWW-Authenticate`, `Retry-After`. */
export function sendProblem(res: ServerResponse, error: unknown): void {
  const p = toProblem(error)
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify(p.body)
  // A body left unread (rejected before step 7) would be parsed as the next request: close the
  // connection then. A fully received request keeps its keep-alive connection.
  const unread = res.req !== undefined && bodyUnread(res.req)
  res.writeHead(p.status, { ...p.headers, 'content-length': Buffer.byteLength(body), ...(unread ? { connection: 'close' } : {}) })
  res.end(body)
}
