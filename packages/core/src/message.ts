/**
 * The minimal read-only view of headers the signature base needs. A Web `Headers` satisfies it;
 * `getAll` (each field line separately) is used by the `bs` flag when present.
 */
export interface HeaderSource {
  get(name: string): string | null
  getAll?(name: string): string[]
}

/**
 * What a signature can cover of a request, taken exactly as it goes on the wire. Build it with
 * {@link requestFromUrl} or {@link requestFromFetch}; server adapters build it from the raw target.
 */
export interface RequestMessage {
  /** Method exactly as sent (methods are case-sensitive). */
  method: string
  /** Lower-case scheme, `http` or `https`. */
  scheme: string
  /** Host and non-default port, lower-cased (RFC 9421 §2.2.3). */
  authority: string
  /** Raw path, never decoded; `/` when empty. */
  path: string
  /** Raw query including its leading `?`, or `''` when the target has none. */
  query: string
  headers: HeaderSource
}

/** A response as seen by its signer or verifier, with the request that caused it. */
export interface ResponseMessage {
  status: number
  headers: HeaderSource
  request?: RequestMessage
}

/** Either kind of message. */
export type Message = RequestMessage | ResponseMessage

/** True for a response view. */
export function isResponse(m: Message): m is ResponseMessage {
  return typeof (m as ResponseMessage).status === 'number'
}

/** One field's value as Node and undici hand it over: a list of lines, a number, or nothing. */
type FieldValue = string | number | readonly string[] | undefined | null

/** A field's lines as one value, joined with ", " (RFC 9110 §5.3); null when absent. */
function fieldValue(v: FieldValue): string | null {
  return v === undefined || v === null ? null : typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : String(v)
}

/**
 * A header view over a getter of one field by lower-case name (Node's `res.getHeader`): the one
 * way Sigil reads headers of that shape.
 */
export function headersFromGetter(get: (name: string) => FieldValue): HeaderSource {
  return { get: (n) => fieldValue(get(n)) }
}

/**
 * A header view over a record keyed by lower-case name (undici's headers, Node's
 * `headersDistinct`, a signer's normalized headers): only the record's own keys are fields, so
 * `constructor` or `__proto__` asked of a plain object is absent, not inherited.
 */
export function headersFromRecord(record: Readonly<Record<string, FieldValue>>): HeaderSource {
  return { get: (n) => (Object.hasOwn(record, n) ? fieldValue(record[n]) : null) }
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' }

/** Lower-case a host, drop the scheme's default port (RFC 9421 §2.2.3). */
export function normalizeAuthority(host: string, scheme: string): string {
  // A server sees the same Host on most requests: the last answer, for a host equal to the last.
  if (host === lastHost && scheme === lastScheme) return lastAuthority
  const h = host.trim().toLowerCase()
  const colon = h.lastIndexOf(':')
  const authority = colon > h.lastIndexOf(']') && h.slice(colon + 1) === DEFAULT_PORTS[scheme] ? h.slice(0, colon) : h
  lastHost = host
  lastScheme = scheme
  lastAuthority = authority
  return authority
}

let lastHost: string | undefined
let lastScheme: string | undefined
let lastAuthority = ''

/**
 * Split a raw request target (origin-form `/p?q` or absolute-form `https://h/p?q`) into path and
 * query without decoding anything. Absolute-form targets are reduced to their path (SPEC §2).
 */
export function splitTarget(target: string): { path: string; query: string; authority?: string; scheme?: string } {
  let rest = target
  let authority: string | undefined
  let scheme: string | undefined
  // Origin-form (`/…`, nearly every request) cannot match the scheme pattern: skip the regex.
  const m = target.charCodeAt(0) === 0x2f ? null : /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(target)
  if (m) {
    scheme = (m[1] as string).toLowerCase()
    authority = m[2] as string
    rest = target.slice(m[0].length)
  }
  const hash = rest.indexOf('#')
  if (hash >= 0) rest = rest.slice(0, hash)
  const q = rest.indexOf('?')
  const path = q >= 0 ? rest.slice(0, q) : rest
  const query = q >= 0 ? rest.slice(q) : ''
  if (authority === undefined) return { path: path === '' ? '/' : path, query }
  return { path: path === '' ? '/' : path, query, authority, scheme }
}

/**
 * A request view from a URL string as a WHATWG `URL` serializes it (what `fetch` puts on the
 * wire) and headers.
 *
 * @example
 * ```ts
 * const view = requestFromUrl('POST', 'https://api.example.com/v1/orders?b=2&a=1', new Headers())
 * view.authority // 'api.example.com'
 * ```
 */
export function requestFromUrl(method: string, url: string | URL, headers: HeaderSource): RequestMessage {
  // A client signs the same URL string over and over: parse it once.
  if (typeof url === 'string' && url === lastUrl && lastParts) {
    const p = lastParts
    return { method, scheme: p.scheme, authority: p.authority, path: p.path, query: p.query, headers }
  }
  const view = parseRequestUrl(method, url, headers)
  if (typeof url === 'string') {
    lastUrl = url
    lastParts = { scheme: view.scheme, authority: view.authority, path: view.path, query: view.query }
  }
  return view
}

let lastUrl: string | undefined
let lastParts: Pick<RequestMessage, 'scheme' | 'authority' | 'path' | 'query'> | undefined

function parseRequestUrl(method: string, url: string | URL, headers: HeaderSource): RequestMessage {
  const u = typeof url === 'string' ? new URL(url) : url
  const scheme = u.protocol.slice(0, -1).toLowerCase()
  // URL.search drops a bare trailing '?'; href keeps it, so read the raw query from href.
  const href = u.href
  const hash = href.indexOf('#')
  const noHash = hash >= 0 ? href.slice(0, hash) : href
  const q = noHash.indexOf('?')
  return {
    method,
    scheme,
    authority: normalizeAuthority(u.host, scheme),
    path: u.pathname === '' ? '/' : u.pathname,
    query: q >= 0 ? noHash.slice(q) : '',
    headers,
  }
}

/** A request view of a Web `Request`. */
export function requestFromFetch(request: Request): RequestMessage {
  return requestFromUrl(request.method, request.url, request.headers)
}
