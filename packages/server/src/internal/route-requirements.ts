import { VerificationError } from '@sigil/core'
import type { Verified } from './incoming.js'

/**
 * A route that skips verification (health checks, public docs): an exact raw path (`/healthz`),
 * a prefix ending in `*` (`/public/*`), a RegExp tested against the raw path, or a predicate.
 * Only a path every router reads the same way can be exempt (see {@link isPlainPath}).
 */
export type ExemptRule = string | RegExp | ((route: { method: string; path: string }) => boolean)

/**
 * Whether a raw request path means the same thing to every router: it starts with `/` and has no
 * dot segment (`.`, `..`, also `..;x`), no empty segment (`//`), no backslash, no percent-encoded
 * `.`, `/`, `\`, `%` or NUL, and no control, space or non-ASCII byte. A path that fails this is
 * one a framework may normalize before routing (`/public/../v1/x` is routed as `/v1/x`), so it
 * is never exempt: the exemption would be matched on one path and the handler chosen by another.
 */
export function isPlainPath(path: string): boolean {
  if (path.charCodeAt(0) !== 47 /* / */) return false
  if (path.includes('//') || path.includes('\\')) return false
  if (/%(?:2e|2f|5c|25|00)/i.test(path)) return false
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what we refuse
  if (/[\x00-\x20\x7f-\uffff]/.test(path)) return false
  for (const seg of path.split('/')) if (/^\.\.?(?:;|$)/.test(seg)) return false
  return true
}

/**
 * Compile exemption rules once into a predicate over the raw request path. `routed`, when the
 * adapter knows it, is the path the framework dispatches on: a request is exempt only when that is
 * the raw path itself.
 */
export function exemptMatcher(
  rules: ExemptRule | readonly ExemptRule[] | undefined,
): (method: string, path: string, routed?: string) => boolean {
  if (rules === undefined) return () => false
  const list = (Array.isArray(rules) ? rules : [rules]) as readonly ExemptRule[]
  const tests = list.map((r): ((method: string, path: string) => boolean) => {
    if (typeof r === 'function') return (method, path) => r({ method, path })
    if (r instanceof RegExp) return (_, path) => r.test(path)
    if (r.endsWith('*')) {
      const prefix = r.slice(0, -1)
      return (_, path) => path.startsWith(prefix)
    }
    return (_, path) => path === r
  })
  return (method, path, routed) => {
    if (routed !== undefined && routed !== path) return false
    if (!isPlainPath(path)) return false
    return tests.some((t) => t(method, path))
  }
}

/**
 * Whether granted scopes cover a wanted one: exact, `*`, or a `prefix:*` wildcard. Mirrors the
 * verifier's SPEC §2 step 8 check so per-route checks agree with global ones.
 */
export function hasScope(granted: readonly string[], want: string): boolean {
  for (const g of granted) {
    if (g === want || g === '*') return true
    if (g.endsWith(':*') && want.startsWith(g.slice(0, -1))) return true
  }
  return false
}

/**
 * Check a route's required scopes against a verification result. Throws `SIGNATURE_MISSING` (401)
 * when the request was not verified (e.g. the route was exempted by mistake) and `SCOPE_DENIED`
 * (403) when a scope is missing. Adapters' `requireScopes` middlewares call this.
 *
 * @example
 * ```ts
 * checkScopes(verified, ['orders:write']) // throws VerificationError('SCOPE_DENIED') if not granted
 * ```
 */
export function checkScopes(verified: Verified | undefined, scopes: readonly string[]): Verified {
  if (!verified) throw new VerificationError('SIGNATURE_MISSING', 'route requires a verified signature')
  for (const s of scopes) if (!hasScope(verified.scopes, s)) throw new VerificationError('SCOPE_DENIED', `key lacks scope ${s}`)
  return verified
}
