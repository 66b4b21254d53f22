import { SigilError, type SigilErrorCode } from '@sigil/core'
import type { RateLimitDecision } from './rate-limit.js'

const TITLES: Partial<Record<SigilErrorCode, string>> = {
  SIGNATURE_MISSING: 'Request is not signed',
  SIGNATURE_MALFORMED: 'Signature headers are malformed',
  PROFILE_VIOLATION: 'Signature does not follow the profile',
  CLOCK_SKEW: 'Signature time is outside the allowed window',
  SIGNATURE_EXPIRED: 'Signature has expired',
  KEY_UNKNOWN: 'Unknown key',
  KEY_REVOKED: 'Key has been revoked',
  KEY_EXPIRED: 'Key has expired',
  SIGNATURE_INVALID: 'Signature does not verify',
  NONCE_REPLAYED: 'Request was replayed',
  DIGEST_MISSING: 'Body is not covered by a digest',
  DIGEST_MISMATCH: 'Body does not match its digest',
  BODY_TOO_LARGE: 'Body is too large',
  BODY_TIMEOUT: 'Body did not arrive in time',
  BODY_INCOMPLETE: 'Body ended before its end',
  SCOPE_DENIED: 'Key lacks a required scope',
  RATE_LIMITED: 'Rate limit exceeded',
  QUOTA_EXCEEDED: 'Quota exhausted',
  STORE_UNAVAILABLE: 'Verification store unavailable',
}

/** RFC 9457 problem details as Sigil renders them. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  code: string
  detail?: string
  /** Only with the `debug` option, never in production. */
  signatureBase?: string
}

/** A rendered rejection: status, headers and problem+json body. */
export interface Problem {
  status: number
  headers: Record<string, string>
  body: ProblemBody
}

/** `RateLimit` and `RateLimit-Policy` (IETF httpapi-ratelimit-headers) and `Retry-After`. */
export function rateLimitHeaders(d: RateLimitDecision): Record<string, string> {
  const name = d.code === 'QUOTA_EXCEEDED' ? 'quota' : 'rate'
  return {
    'retry-after': String(d.resetSeconds),
    ratelimit: `"${name}";r=${d.remaining};t=${d.resetSeconds}`,
    'ratelimit-policy': `"${name}";q=${d.limit};w=${d.windowSeconds}`,
  }
}

/**
 * Render any error as problem+json. Sigil errors keep their status and code; anything else is a
 * 500 that reveals nothing. Every rejection carries `Date` so clients can correct their clocks.
 *
 * @example
 * ```ts
 * const { status, headers, body } = toProblem(error)
 * ```
 */
export function toProblem(error: unknown, now: Date = new Date()): Problem {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    date: now.toUTCString(),
    'cache-control': 'no-store',
  }
  if (!(error instanceof SigilError)) {
    return { status: 500, headers, body: { type: 'about:blank', title: 'Internal Server Error', status: 500, code: 'INTERNAL_ERROR' } }
  }
  const code = error.code
  const body: ProblemBody = {
    type: `urn:sigil:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code] ?? code,
    status: error.status,
    code,
    detail: error.message,
  }
  const base = (error as { signatureBase?: string }).signatureBase
  if (base !== undefined) body.signatureBase = base
  if (error.status === 401) headers['www-authenticate'] = `Signature error="${code.toLowerCase()}"`
  if (code === 'STORE_UNAVAILABLE') headers['retry-after'] = '1'
  Object.assign(headers, (error as { headers?: Record<string, string> }).headers)
  return { status: error.status, headers, body }
}

/** A Web `Response` for a rejection. */
export function problemResponse(error: unknown): Response {
  const p = toProblem(error)
  return new Response(JSON.stringify(p.body), { status: p.status, headers: p.headers })
}
