import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'

/**
 * A Web Request from a node:http request, as Next's server builds one for route handlers: the URL
 * names `localhost` and the listening port whatever host the client called (the client's Host
 * header is kept in the headers), and every method but GET and HEAD gets a body stream, empty or not.
 */
export function toRequest(req: IncomingMessage): Request {
  // Every field line as sent (a repeated field is joined by Headers, as RFC 9110 §5.3 says).
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string)
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  // An absolute-form target (`GET http://host/p`) keeps only its path: the host is the Host header.
  const raw = req.url ?? '/'
  const target = raw.startsWith('/') ? raw : raw.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '') || '/'
  return new Request(`http://localhost:${req.socket.localPort ?? 80}${target.startsWith('/') ? target : `/${target}`}`, {
    method: req.method ?? 'GET',
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit)
}
