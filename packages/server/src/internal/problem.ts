import { SigilError, type SigilErrorCode, type VerificationError } from '@sigil/core'
import type { RateLimitDecision } from './rate-limiter.js'
import type { TestKeyExplanation } from './verify-steps.js'

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
  CONTENT_ENCODING_UNSUPPORTED: 'Content-Encoding not supported here',
  ENCRYPTION_REQUIRED: 'Body must be encrypted (aes128gcm)',
  BODY_DECRYPTION_FAILED: 'Encrypted body does not decrypt',
  SCOPE_DENIED: 'Key lacks a required scope',
  RATE_LIMITED: 'Rate limit exceeded',
  QUOTA_EXCEEDED: 'Quota exhausted',
  STORE_UNAVAILABLE: 'Verification store unavailable',
  NONCE_STORE_RESET: 'Replay store was reset; sign the request again',
  TEST_KEY_REFUSED: 'Test keys are not accepted here',
  KEY_RECORD_INVALID: 'Key record cannot be used',
}

/** Receives internal failures with the correlation id the caller was given. */
export type ErrorReporter = (error: unknown, info: { correlationId: string }) => void

const correlation = new WeakMap<object, string>()

function describe(error: unknown): string {
  const parts: string[] = []
  let e: unknown = error
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : typeof e === 'string' ? e : 'non-error thrown')
    e = e instanceof Error ? e.cause : undefined
  }
  return parts.join(' <- caused by ')
}

// During an outage every request fails the same way: the default log keeps to a few lines a
// second and says how many it left out, so a store outage does not become a log flood.
const LOG_BURST = 20
const LOG_WINDOW_MS = 10_000
let logWindowStart = 0
let logged = 0
let suppressed = 0
const defaultReporter: ErrorReporter = (error, { correlationId }) => {
  const now = Date.now()
  if (now - logWindowStart >= LOG_WINDOW_MS) {
    if (suppressed) console.error(`[sigil] ${suppressed} more internal errors in the last ${LOG_WINDOW_MS / 1000} s not logged`)
    logWindowStart = now
    logged = 0
    suppressed = 0
  }
  if (logged >= LOG_BURST) {
    suppressed++
    return
  }
  logged++
  console.error(`[sigil] ${correlationId} ${describe(error)}`)
}

/**
 * Report an internal failure once and return its correlation id; later calls for the same error
 * return the same id without reporting again (the verifier reports store failures where the
 * integrator's `onError` is known; problem rendering finds the id).
 */
export function reportInternal(error: unknown, onError: ErrorReporter | undefined = defaultReporter): string {
  const known = typeof error === 'object' && error !== null ? correlation.get(error) : undefined
  if (known) return known
  const id = crypto.randomUUID()
  if (typeof error === 'object' && error !== null) correlation.set(error, id)
  try {
    onError(error, { correlationId: id })
  } catch {
    // A failing logger never turns a problem response into a crash.
  }
  return id
}

/** RFC 9457 problem details as Sigil renders them. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  code: string
  detail?: string
  /** `urn:uuid:<correlation id>` on 5xx answers: the id under which the detail was logged. */
  instance?: string
  /** The same id, for clients that look for a plain field. */
  correlationId?: string
  /** Only with the `debug` option, never in production. */
  signatureBase?: string
  /**
   * Only for a request signed with a test key (SPEC §4) that failed its MAC or digest: what the
   * server rebuilt, so the partner can debug from their side. Never for a live or unknown key.
   */
  explanation?: TestKeyExplanation
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
  // The headers count whole seconds; the decision carries milliseconds like every other duration.
  const reset = Math.ceil(d.resetMs / 1000)
  return {
    'retry-after': String(reset),
    ratelimit: `"${name}";r=${d.remaining};t=${reset}`,
    'ratelimit-policy': `"${name}";q=${d.limit};w=${Math.ceil(d.windowMs / 1000)}`,
  }
}

/** Options of {@link toProblem} / {@link problemResponse}. */
export interface ProblemOptions {
  /** Where the detail of an internal failure goes (default `console.error`, at most 20 lines per 10 s). */
  onError?: ErrorReporter
}

/**
 * Render any error as problem+json. A 4xx Sigil error keeps its status, code and message (Sigil's
 * messages carry no secrets or header values). Anything else — a configuration or store error, a bug — is a 500 with a generic title
 * and a correlation id (`instance`, `correlationId`); its detail goes to `onError` under that id,
 * never to the caller. `STORE_UNAVAILABLE` stays a 503, with a generic detail and a correlation id. Every rejection carries `Date` so
 * clients can correct their clocks.
 *
 * @example
 * ```ts
 * const { status, headers, body } = toProblem(error)
 * ```
 */
export function toProblem(error: unknown, now: Date = new Date(), options: ProblemOptions = {}): Problem {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    date: now.toUTCString(),
    'cache-control': 'no-store',
  }
  // A verdict (4xx) says why in Sigil's own words. Anything 5xx says nothing but a correlation id.
  const verdict = error instanceof SigilError && error.status < 500
  const unavailable = error instanceof SigilError && error.code === 'STORE_UNAVAILABLE'
  if (!verdict && !unavailable) {
    const id = reportInternal(error, options.onError)
    return {
      status: 500,
      headers,
      body: {
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        code: 'INTERNAL_ERROR',
        detail: 'the server could not verify this request; quote the correlation id when reporting it',
        instance: `urn:uuid:${id}`,
        correlationId: id,
      },
    }
  }
  const e = error as SigilError
  const code = e.code
  const body: ProblemBody = {
    type: `urn:sigil:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code] ?? code,
    status: e.status,
    code,
    detail: e.message,
  }
  if (unavailable) {
    const id = reportInternal(error, options.onError)
    body.detail = 'a verification store did not answer; retry later'
    body.instance = `urn:uuid:${id}`
    body.correlationId = id
  }
  // Typed fields of VerificationError, read by shape (a second copy of core must not lose them).
  const {
    signatureBase: base,
    headers: extra,
    explanation,
  } = error as Partial<Pick<VerificationError, 'signatureBase' | 'headers'>> & { explanation?: TestKeyExplanation }
  if (base !== undefined) body.signatureBase = base
  if (explanation !== undefined) body.explanation = explanation
  if (e.status === 401) headers['www-authenticate'] = `Signature error="${code.toLowerCase()}"`
  if (code === 'STORE_UNAVAILABLE') headers['retry-after'] = '1'
  if (extra) Object.assign(headers, extra)
  return { status: e.status, headers, body }
}

/** A Web `Response` for a rejection (see {@link toProblem}). */
export function problemResponse(error: unknown, options: ProblemOptions = {}): Response {
  const p = toProblem(error, new Date(), options)
  return new Response(JSON.stringify(p.body), { status: p.status, headers: p.headers })
}
