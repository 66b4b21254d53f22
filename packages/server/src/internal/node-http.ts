// node:http plumbing shared by the node, express and fastify adapters: the request view (raw
// target, Host-derived authority, streamed body) and the problem+json writer.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { HeaderSource } from '@sigil/core'
import { splitTarget } from '@sigil/core'
import { connectionHost, resolveOrigin } from './authority.js'
import { declaredBody, type IncomingRequest } from './incoming.js'
import { pushBody } from './node-body.js'
import { toProblem } from './problem.js'
import type { Verifier } from './verifier.js'

/**
 * Header access over a Node request: every field line joined with ", " (RFC 9110 §5.3), and each
 * line for `bs`. `req.headers` is not enough: Node keeps only the first line of Host,
 * Content-Type and a few others, so a second line an app or proxy might use would go unseen.
 * A class, so a request costs one small object rather than two closures.
 */
class NodeHeaders implements HeaderSource {
  constructor(private readonly req: IncomingMessage) {}
  get(name: string): string | null {
    // The raw lines are the truth: a name that was not sent is absent, whatever `req.headers`
    // inherits (`constructor`, `__proto__`, `toString` are on a plain object's prototype).
    const n = this.lines(name)
    if (n === 0) return null
    const h = this.req.headers
    // A field sent on exactly one line is node's parsed value as is.
    if (n === 1 && Object.hasOwn(h, name)) {
      const v = h[name]
      if (typeof v === 'string') return v
      if (Array.isArray(v)) return v.join(', ')
    }
    return this.getAll(name).join(', ')
  }
  /** How many field lines carry `name` (lower-case). */
  private lines(name: string): number {
    const raw = this.req.rawHeaders
    let n = 0
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const r = raw[i] as string
      if (r.length === name.length && (r === name || r.toLowerCase() === name)) n++
    }
    return n
  }
  getAll(name: string): string[] {
    const out: string[] = []
    const raw = this.req.rawHeaders
    for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === name) out.push(raw[i + 1] as string)
    return out
  }
}

/** Header access over a Node request (see {@link NodeHeaders}). */
export function nodeHeaders(req: IncomingMessage): HeaderSource {
  return new NodeHeaders(req)
}

/** Options of the Node adapter. */
export interface NodeVerifyOptions {
  /** Raw request target to sign against (defaults to `req.url`; express passes `originalUrl`). */
  target?: string
  /** A body source to use instead of the request stream (e.g. bytes a framework already read). */
  body?: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array> | null
}

/** Adapt a `node:http` request: raw path and query, Host-derived authority, streamed body. */
export function incomingFromNode(req: IncomingMessage, verifier: Verifier, opts: NodeVerifyOptions = {}): IncomingRequest {
  const headers = new NodeHeaders(req)
  const target = splitTarget(opts.target ?? req.url ?? '/')
  const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true
  const h2 = req.httpVersionMajor === 2
  const connectionScheme = h2 ? (headers.get(':scheme') ?? (encrypted ? 'https' : 'http')) : encrypted ? 'https' : 'http'
  const { authority, scheme } = resolveOrigin(
    (n) => headers.get(n),
    connectionScheme,
    connectionHost(headers.getAll('host'), headers.get(':authority'), target, connectionScheme),
    verifier.config,
  )
  // HTTP/1.x framing is exact (no Content-Length and no Transfer-Encoding is no body); HTTP/2 may
  // send DATA frames without Content-Length, so there the bytes decide.
  const declared = declaredBody(headers.get('content-length'), headers.get('transfer-encoding'), !h2)
  const incoming: IncomingRequest = {
    message: { method: req.method ?? 'GET', scheme, authority, path: target.path, query: target.query, headers },
    hasBody: declared.hasBody,
    mayHaveBody: declared.mayHaveBody,
    body: opts.body ?? (declared.mayHaveBody ? () => pushBody(req) : noBody),
  }
  if (declared.contentLength !== undefined) incoming.contentLength = declared.contentLength
  const address = req.socket?.remoteAddress
  if (address) incoming.address = address
  return incoming
}

const noBody = () => null

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
  const unread = res.req !== undefined && !res.req.complete
  res.writeHead(p.status, { ...p.headers, 'content-length': Buffer.byteLength(body), ...(unread ? { connection: 'close' } : {}) })
  res.end(body)
}
