// Deliver a Wire request to a verifier two ways: as an IncomingRequest built from the raw parts
// (RFC-exact header semantics), and over a real node:http server through a raw socket, so that no
// client library normalizes the request target first.
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { splitTarget } from '@sigil/core/internal'
import { createMemoryNonceStore, createVerifier, type Verifier, type VerifyOptions } from '@sigil/server'
import { withSigil } from '@sigil/server/node'
import { connectionHost } from '../../packages/server/src/internal/authority.js'
import { verifyBuilt } from '../../packages/server/src/internal/incoming.js'
import { declaredBody, resolveOrigin } from '../../packages/server/src/internal/index.js'

export { outcomeOf } from '../helpers/outcome.js'

import { outcomeOf } from '../helpers/outcome.js'
import { headerSource, KEY_ID, NOW_S, type Outcome, SECRET, type Vector, type Wire } from './harness.js'

/** A fresh verifier (own nonce store) for a vector. */
export function verifierFor(v: Pick<Vector, 'verifier' | 'request'>, over: Partial<VerifyOptions> = {}): Verifier {
  return createVerifier({
    keys: { [KEY_ID]: SECRET },
    now: () => NOW_S * 1000,
    nonceStore: createMemoryNonceStore({ now: () => NOW_S * 1000 }),
    scheme: v.request.scheme ?? 'https',
    ...(v.verifier?.signatureLimits ? { signatureLimits: v.verifier.signatureLimits } : {}),
    ...(v.verifier?.maxBodyBytes !== undefined ? { maxBodyBytes: v.verifier.maxBodyBytes } : {}),
    ...(v.verifier?.opaque ? { opaque: true } : {}),
    ...over,
  })
}

/** The request as an adapter that follows RFC 9110/9112 would hand it over. */
export function toIncoming(w: Wire, verifier: Verifier) {
  const headers = headerSource(w.headers)
  const split = splitTarget(w.target)
  // The host the app sees; two of them (lines, or a target naming another) is no request at all.
  const host = connectionHost(headers.getAll?.('host') ?? [], null, split, w.scheme)
  const origin = resolveOrigin((n) => headers.get(n), w.scheme, host, verifier.config)
  // The framing headers the raw socket path would add (see rawRequest).
  const chunked = w.body !== null && w.framing === 'chunked'
  const declared = declaredBody(
    headers.get('content-length') ?? (w.body && !chunked ? String(w.body.byteLength) : null),
    headers.get('transfer-encoding') ?? (chunked ? 'chunked' : null),
  )
  const body = w.body
  return {
    message: { method: w.method, ...origin, path: split.path, query: split.query, headers },
    hasBody: declared.hasBody,
    mayHaveBody: declared.mayHaveBody,
    ...(declared.contentLength !== undefined ? { contentLength: declared.contentLength } : {}),
    body: () =>
      body
        ? (async function* () {
            yield body
          })()
        : null,
  }
}

export function deliverIncoming(w: Wire, verifier: Verifier): Promise<Outcome> {
  return outcomeOf(verifyBuilt(verifier, () => toIncoming(w, verifier)))
}

/** The bytes of an HTTP/1.1 request, written by hand. */
export function rawRequest(w: Wire): Buffer {
  const lines = w.headers.filter(([k]) => !/^(content-length|transfer-encoding|connection)$/i.test(k))
  let head = `${w.method} ${w.target} HTTP/1.1\r\n`
  for (const [k, v] of lines) head += `${k}: ${v}\r\n`
  const explicit = w.headers.filter(([k]) => /^(content-length|transfer-encoding)$/i.test(k))
  for (const [k, v] of explicit) head += `${k}: ${v}\r\n`
  let body = Buffer.alloc(0)
  if (w.body && explicit.length === 0) {
    if (w.framing === 'chunked') {
      head += 'Transfer-Encoding: chunked\r\n'
      body = Buffer.concat([Buffer.from(`${w.body.byteLength.toString(16)}\r\n`), w.body, Buffer.from('\r\n0\r\n\r\n')])
    } else {
      head += `Content-Length: ${w.body.byteLength}\r\n`
      body = Buffer.from(w.body)
    }
  } else if (w.body) body = Buffer.from(w.body)
  return Buffer.concat([Buffer.from(`${head}Connection: close\r\n\r\n`, 'utf8'), body])
}

/** A node:http server whose verifier can be swapped per vector. */
export async function startServer(): Promise<{ use(v: Verifier): void; send(w: Wire): Promise<Outcome>; close(): Promise<void> }> {
  let listener: ReturnType<typeof withSigil> | undefined
  const server: Server = createServer((req, res) => void listener?.(req, res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    use(v) {
      listener = withSigil(v, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '17', connection: 'close' })
        res.end('{"accepted":true}')
      })
    },
    send: (w) => sendRaw(port, rawRequest(w)),
    close: () => new Promise((r) => server.close(() => r())),
  }
}

export function sendRaw(port: number, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.end(bytes))
    s.on('data', (d) => parts.push(d))
    // The server may close before reading an unwanted body; what it answered still counts.
    s.on('error', () => {})
    s.on('close', () => {
      const text = Buffer.concat(parts).toString('utf8')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])
      if (!status) return resolve('CONNECTION_CLOSED')
      if (status === 200) return resolve('accepted')
      const code = /"code":"([A-Z_]+)"/.exec(text)?.[1]
      resolve(code ?? `HTTP_${status}`)
    })
  })
}
