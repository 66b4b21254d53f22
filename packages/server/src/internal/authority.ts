import { VerificationError } from '@sigil/core'
import { type HeaderSource, normalizeAuthority } from '@sigil/core/internal'
import type { VerifierConfig } from './options.js'

type Get = (name: string) => string | null

const read = (headers: Get | HeaderSource, name: string): string | null =>
  typeof headers === 'function' ? headers(name) : headers.get(name)

const conflict = (what: string): never => {
  throw new VerificationError('COMPONENT_UNRESOLVABLE', `@authority is ambiguous: ${what}`)
}

/**
 * The host the app sees, from what the connection carried (SPEC §2 "authority"): the Host field
 * (or HTTP/2 `:authority`). Refused when the request names two hosts, since the app and the
 * verifier could then read different ones: more than one Host line (or a Host value that is a
 * list), `:authority` and Host that differ, or an absolute-form target whose authority is not the
 * Host (RFC 9112 §3.2.2 says a server ignores Host then; frameworks do not).
 *
 * @param host every Host field line, or the one combined value a Web `Headers` gives
 * @param pseudo HTTP/2 `:authority`, when present
 * @param target an absolute-form request target's authority and scheme, when present
 * @param fallback used only when the request names no host at all (e.g. a Web `Request` built by a
 *   client, whose URL is all there is)
 */
export function connectionHost(
  host: readonly string[],
  pseudo: string | null,
  target: { authority?: string | undefined; scheme?: string | undefined } | undefined,
  scheme: string,
  fallback = '',
): string {
  if (host.length > 1 || (host.length === 1 && (host[0] as string).includes(','))) conflict('more than one Host')
  const h = host[0]
  if (pseudo !== null && h !== undefined && pseudo !== h && normalizeAuthority(pseudo, scheme) !== normalizeAuthority(h, scheme))
    conflict(':authority and Host differ')
  const seen = pseudo ?? h
  const named = target?.authority
  if (named && seen !== undefined && normalizeAuthority(named, target.scheme ?? scheme) !== normalizeAuthority(seen, scheme)) {
    conflict('the request target names another host than Host')
  }
  return named || seen || fallback
}

/** How many proxy hops `trustProxy` trusts: `true` is the one proxy in front, a number is that many. */
export function trustedHops(trustProxy: boolean | number | undefined): number {
  if (trustProxy === true) return 1
  return typeof trustProxy === 'number' && trustProxy > 0 ? Math.floor(trustProxy) : 0
}

/** Split a list-valued field on commas outside quoted strings. */
function listMembers(value: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string
    if (quoted && ch === '\\') {
      cur += ch + (value[i + 1] ?? '')
      i++
      continue
    }
    if (ch === '"') quoted = !quoted
    if (ch === ',' && !quoted) {
      out.push(cur.trim())
      cur = ''
    } else cur += ch
  }
  out.push(cur.trim())
  return out
}

/**
 * The member of a forwarding list added by the farthest proxy we trust: each proxy appends one
 * member, so with `hops` trusted proxies in front of us the last `hops` members are theirs and
 * anything before them was written by the client. With fewer members than hops (a proxy that
 * overwrites), the first member is a trusted proxy's.
 */
function trustedMember(value: string | null, hops: number): string | null {
  if (value === null) return null
  const members = listMembers(value)
  const m = members[Math.max(0, members.length - hops)] as string
  return m === '' ? null : m
}

function forwardedParam(element: string, name: string): string | null {
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== name) continue
    let v = pair.slice(eq + 1).trim()
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1')
    return v
  }
  return null
}

/**
 * The authority and scheme a signature is checked against (SPEC §2): the configured public
 * authority wins; forwarding headers count only with `trustProxy`, and then only the value the
 * nearest trusted hops added (Express's `trust proxy` hop count, where `true` is one hop); else
 * the connection's host (see {@link connectionHost}).
 */
export function resolveOrigin(
  headers: Get | HeaderSource,
  connectionScheme: string,
  connectionHost: string,
  cfg: VerifierConfig,
): { authority: string; scheme: string } {
  let scheme = cfg.scheme ?? connectionScheme
  let host: string | null = null
  const hops = trustedHops(cfg.trustProxy)
  if (hops > 0) {
    const fwd = trustedMember(read(headers, 'forwarded'), hops)
    const xHost = trustedMember(read(headers, 'x-forwarded-host'), hops)
    if (fwd !== null) {
      host = forwardedParam(fwd, 'host')
      const p = forwardedParam(fwd, 'proto')
      if (p && !cfg.scheme) scheme = p.toLowerCase()
      // A proxy that sets one of the two leaves the other as the client wrote it: when both name
      // a host they must agree, or the app may read the one we did not verify.
      if (host !== null && xHost !== null && host.toLowerCase() !== xHost.toLowerCase()) conflict('Forwarded and X-Forwarded-Host differ')
    } else {
      host = xHost
      const xp = trustedMember(read(headers, 'x-forwarded-proto'), hops)
      if (xp && !cfg.scheme) scheme = xp.toLowerCase()
    }
  }
  if (cfg.authority) return { authority: normalizeAuthority(cfg.authority, scheme), scheme }
  host ??= connectionHost
  return { authority: normalizeAuthority(host, scheme), scheme }
}

/**
 * A request view's `@scheme` and `@authority`, the one way every adapter derives them: the host
 * the connection carried ({@link connectionHost}: Host lines, HTTP/2 `:authority`, an absolute-form
 * target, else `fallback`), then the configured authority or trusted proxy headers over it
 * ({@link resolveOrigin}).
 */
export function requestOrigin(
  headers: HeaderSource,
  connectionScheme: string,
  host: readonly string[],
  pseudo: string | null,
  target: { authority?: string | undefined; scheme?: string | undefined } | undefined,
  cfg: VerifierConfig,
  fallback = '',
): { authority: string; scheme: string } {
  return resolveOrigin(headers, connectionScheme, connectionHost(host, pseudo, target, connectionScheme, fallback), cfg)
}
