// Builds the requests the adversarial vectors describe: sign a request exactly as a client would,
// then apply the attacker's (or a proxy's) transformation to what the server receives.
import { signRequest } from '@sigil/client'
import { component, contentDigest, DEFAULT_COMPONENTS, signMessage } from '@sigil/core'
import { type HeaderSource, normalizeAuthority, splitTarget } from '@sigil/core/internal'
import type { BareItem } from '@sigil/core/structured-fields'

export const KEY_ID = 'k_adv_1'
export const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i)
/** Every vector is signed and verified at this instant (2025-01-01T00:00:00Z). */
export const NOW_S = 1_735_689_600

/** A request before signing. `target` is the raw request target (origin-form unless stated). */
export interface RequestSpec {
  method?: string
  scheme?: 'http' | 'https'
  host?: string
  target?: string
  headers?: [string, string][]
  body?: string
  bodyBase64?: string
}

/**
 * How the request is signed. `client` runs `@sigil/client` signRequest over the URL, so the target
 * is what fetch would put on the wire (WHATWG-normalized); `raw` signs the target byte for byte
 * (a curl --path-as-is style client) with core's signMessage.
 */
export interface SignSpec {
  signer?: 'client' | 'raw'
  /** raw: the exact covered components; client: extra components after the defaults. */
  components?: string[]
  params?: Record<string, string | number>
  alg?: false
  label?: string
  tag?: string | false
}

/** What happens to the signed request on its way to the server. */
export interface Received {
  method?: string
  target?: string
  /** Replace every line of these headers (null deletes them). */
  set?: Record<string, string | null>
  /** Append field lines (duplicates, second signatures, ...). */
  add?: [string, string][]
  /** Replace text inside header values: [header, from, to] (every occurrence). */
  replace?: [string, string, string][]
  /** Rename header lines, e.g. to change their case. */
  rename?: Record<string, string>
  body?: string | null
  bodyBase64?: string
  framing?: 'content-length' | 'chunked'
  /** Replace Signature and Signature-Input with those of another signed request. */
  signatureFrom?: { request: RequestSpec; sign?: SignSpec }
}

/** An outcome: a Sigil error code, `accepted`, or `HTTP_<status>` when Node's parser refuses first. */
export type Outcome = string

export interface Vector {
  name: string
  source: string
  why: string
  request: RequestSpec
  sign?: SignSpec
  received?: Received
  /** Delivered first on the same verifier; must be accepted. */
  prior?: { request: RequestSpec; sign?: SignSpec }
  verifier?: { signatureLimits?: Record<string, number>; maxBodyBytes?: number; opaque?: boolean }
  expect: Outcome
  /** The outcome over a raw socket, when Node's HTTP parser decides before Sigil does. */
  socket?: Outcome
  transports?: Array<'incoming' | 'socket'>
}

/** A request as it travels: raw target, header lines in order (Host first), body bytes. */
export interface Wire {
  method: string
  scheme: 'http' | 'https'
  target: string
  headers: [string, string][]
  body: Uint8Array | null
  framing: 'content-length' | 'chunked'
}

/** `{{repeat:N:text}}` expands to text repeated N times (huge fields without huge JSON). */
export function expand(s: string): string {
  return s.replace(/\{\{repeat:(\d+):([^}]*)\}\}/g, (_, n: string, t: string) => t.repeat(Number(n)))
}

/** RFC 9110 §5.3: field lines with the same name are one field, joined with ", ". */
export function headerSource(lines: readonly [string, string][]): HeaderSource {
  const all = (name: string) => lines.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v.trim())
  return {
    get: (name) => {
      const v = all(name)
      return v.length ? v.join(', ') : null
    },
    getAll: all,
  }
}

const bytesOf = (text?: string | null, b64?: string): Uint8Array | null =>
  b64 !== undefined
    ? new Uint8Array(Buffer.from(b64, 'base64'))
    : text === undefined || text === null
      ? null
      : new TextEncoder().encode(text)

/** Sign a request spec; returns what the client puts on the wire. */
export async function signSpec(r: RequestSpec, s: SignSpec = {}): Promise<Wire> {
  const scheme = r.scheme ?? 'https'
  const host = r.host ?? 'api.example.com'
  const method = r.method ?? 'GET'
  const body = bytesOf(r.body, r.bodyBase64)
  const headers = (r.headers ?? []).map(([k, v]) => [k, expand(v)] as [string, string])
  if ((s.signer ?? 'client') === 'client') {
    const url = `${scheme}://${host}${r.target ?? '/'}`
    const signed = await signRequest(new Request(url, { method, headers, body: body as Uint8Array<ArrayBuffer> | null }), {
      keyId: KEY_ID,
      secret: SECRET,
      now: () => NOW_S * 1000,
      ...(s.components ? { components: s.components } : {}),
      ...(s.label ? { label: s.label } : {}),
      ...(typeof s.tag === 'string' ? { tag: s.tag } : {}),
      ...(s.params ? { params: s.params } : {}),
    })
    const u = new URL(signed.url)
    return {
      method,
      scheme,
      target: signed.url.slice(u.origin.length),
      headers: [['Host', u.host], ...signed.headers],
      body,
      framing: 'content-length',
    }
  }
  const lines: [string, string][] = [['Host', host], ...headers]
  if (body) lines.push(['Content-Digest', contentDigest(body)])
  const { path, query } = splitTarget(r.target ?? '/')
  const message = { method, scheme, authority: normalizeAuthority(host, scheme), path, query, headers: headerSource(lines) }
  const defaults = body
    ? DEFAULT_COMPONENTS.withBody.filter((c) => c.name !== 'content-type' || message.headers.get('content-type') !== null)
    : DEFAULT_COMPONENTS.bodyless
  const signed = await signMessage(message, {
    keyId: KEY_ID,
    secret: SECRET,
    components: s.components ? s.components.map((c) => component(c)) : defaults,
    created: NOW_S,
    expiresInMs: 300_000,
    ...(s.alg === false ? { alg: false } : {}),
    ...(s.label ? { label: s.label } : {}),
    ...(s.tag !== undefined ? { tag: s.tag } : {}),
    ...(s.params ? { extraParams: s.params as Record<string, BareItem> } : {}),
  })
  lines.push(['Signature-Input', signed.signatureInput], ['Signature', signed.signature])
  return { method, scheme, target: r.target ?? '/', headers: lines, body, framing: 'content-length' }
}

/** Apply a transformation to a signed request. */
export async function receive(w: Wire, t: Received = {}): Promise<Wire> {
  let headers = w.headers.map(([k, v]) => [k, v] as [string, string])
  if (t.signatureFrom) {
    const other = await signSpec(t.signatureFrom.request, t.signatureFrom.sign)
    const pick = (n: string) => other.headers.filter(([k]) => k.toLowerCase() === n)
    headers = [...headers.filter(([k]) => !/^signature(-input)?$/i.test(k)), ...pick('signature-input'), ...pick('signature')]
  }
  for (const [name, value] of Object.entries(t.set ?? {})) {
    const at = headers.findIndex(([k]) => k.toLowerCase() === name.toLowerCase())
    headers = headers.filter(([k]) => k.toLowerCase() !== name.toLowerCase())
    if (value !== null) headers.splice(at < 0 ? headers.length : at, 0, [name, expand(value)])
  }
  for (const [k, v] of t.add ?? []) headers.push([k, expand(v)])
  for (const [name, from, to] of t.replace ?? []) {
    headers = headers.map(([k, v]) => [k, k.toLowerCase() === name ? v.split(from).join(expand(to)) : v])
  }
  for (const [from, to] of Object.entries(t.rename ?? {})) headers = headers.map(([k, v]) => [k.toLowerCase() === from ? to : k, v])
  const body = t.body !== undefined || t.bodyBase64 !== undefined ? bytesOf(t.body, t.bodyBase64) : w.body
  return { ...w, method: t.method ?? w.method, target: t.target ?? w.target, headers, body, framing: t.framing ?? w.framing }
}
