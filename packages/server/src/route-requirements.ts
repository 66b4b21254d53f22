import { VerificationError } from '@sigil/core'
import type { Verified } from './incoming.js'

/**
 * A route that skips verification (health checks, public docs): an exact raw path (`/healthz`),
 * a prefix ending in `*` (`/public/*`), a RegExp tested against the raw path, or a predicate.
 */
export type ExemptRule = string | RegExp | ((route: { method: string; path: string }) => boolean)

/** Compile exemption rules once into a predicate over the raw request path. */
export function exemptMatcher(rules: ExemptRule | readonly ExemptRule[] | undefined): (method: string, path: string) => boolean {
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
  return (method, path) => tests.some((t) => t(method, path))
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
export function checkScopes(verified: Verified | undefined | null, scopes: readonly string[]): Verified {
  if (!verified) throw new VerificationError('SIGNATURE_MISSING', 'route requires a verified signature')
  for (const s of scopes) if (!hasScope(verified.scopes, s)) throw new VerificationError('SCOPE_DENIED', `key lacks scope ${s}`)
  return verified
}
