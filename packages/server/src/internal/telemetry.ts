import { SigilError, type SigilErrorCode } from '@sigil/core'

/**
 * What the verifier knew about the key when it decided, as a bounded label (never the key id: it
 * is whatever the client sent):
 * - `known`: the key store holds the key (a live key; revoked and expired keys too),
 * - `test`: the key store holds it and it is a test key (SPEC §4),
 * - `unknown`: the key store does not hold it,
 * - `unresolved`: a key id was read, but the request was refused before the lookup answered (e.g.
 *   `CLOCK_SKEW`, or the key store's outage),
 * - `none`: no key id could be read (e.g. `SIGNATURE_MISSING`).
 */
export type KeyClass = 'known' | 'test' | 'unknown' | 'unresolved' | 'none'

/**
 * One verification, as a {@link VerificationTelemetry} hook gets it. Every field is a bounded
 * label or a number: no key id, secret, signature, header value or URL.
 */
export interface VerificationEvent {
  /** `accepted`, the rejection's stable code, or `INTERNAL_ERROR` for anything else that was thrown. */
  result: 'accepted' | SigilErrorCode | 'INTERNAL_ERROR'
  /** The HTTP status of a rejection (401, 403, 503…); absent when accepted. */
  status?: number
  keyClass: KeyClass
  /** The request method, upper case, when it is one of RFC 9110's (plus PATCH and QUERY); `_OTHER` otherwise. */
  method: string
  /**
   * The route pattern the framework matched (`/v1/orders/:id`), when the adapter knows it, or the
   * `route` given in the verify context; absent otherwise. Never the request's path or query.
   */
  route?: string
  /** When the verification started, in milliseconds since the epoch (sub-millisecond precision). */
  startTime: number
  /** How long it took, in milliseconds. */
  durationMs: number
}

/**
 * Receives one {@link VerificationEvent} per verification (accepted or not, store outages and
 * internal errors included; not `explain()`). `@sigil/server/otel`'s `sigilTelemetry()` is one.
 * Called on the request path, after the verdict: keep it cheap. What it throws is swallowed.
 */
export interface VerificationTelemetry {
  record(event: VerificationEvent): void
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'])

/** OpenTelemetry's rule for `http.request.method`: a known method as is, anything else `_OTHER` (bounded). */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : '_OTHER'
}

/** What the verifier knew of the key, from what the check recorded (see {@link KeyClass}). */
export function keyClassOf(keyId: string | undefined, keyFound: boolean | undefined, test: boolean | undefined): KeyClass {
  if (keyFound === true) return test === true ? 'test' : 'known'
  if (keyFound === false) return 'unknown'
  return keyId === undefined ? 'none' : 'unresolved'
}

/** A clock with sub-millisecond precision where there is one (every runtime Sigil supports has `performance`). */
export const clock: () => number =
  typeof performance === 'object' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now()
const origin = typeof performance === 'object' && typeof performance.timeOrigin === 'number' ? performance.timeOrigin : 0

/** Errors the verifier has already told its hook about (an adapter's catch sees them again). */
const told = new WeakSet<object>()

/** What {@link recordTelemetry} reads of a finished check (the verifier's `Check`). */
export interface CheckSeen {
  keyId: string | undefined
  keyFound: boolean | undefined
  key: { test?: boolean } | undefined
  request: { message: { method: string } }
  ctx: { route?: string } | undefined
}

/**
 * Hand the outcome of one check to the hook (`failed`: it threw `error`), never failing or
 * delaying the request: what the hook throws or rejects with is swallowed (best effort, like usage).
 */
export function recordTelemetry(telemetry: VerificationTelemetry, started: number, c: CheckSeen, failed: boolean, error?: unknown): void {
  const ended = clock()
  const event: VerificationEvent = {
    result: !failed ? 'accepted' : error instanceof SigilError ? error.code : 'INTERNAL_ERROR',
    keyClass: keyClassOf(c.keyId, c.keyFound, c.key?.test),
    method: methodLabel(c.request.message.method),
    startTime: origin === 0 ? Date.now() - (ended - started) : origin + started,
    durationMs: ended - started,
  }
  if (failed) {
    event.status = error instanceof SigilError ? error.status : 500
    if (typeof error === 'object' && error !== null) told.add(error)
  }
  const route = c.ctx?.route
  if (route !== undefined) event.route = route
  try {
    const r = telemetry.record(event) as unknown
    if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {})
  } catch {
    // a broken exporter never changes a verdict
  }
}

/**
 * A request the adapter could not even build for the verifier (two Host lines: 400
 * `COMPONENT_UNRESOLVABLE`) is an outcome too. Adapters call this from the catch around building
 * and verifying; an error the verifier already recorded is not recorded twice.
 */
export function recordUnbuilt(
  config: { telemetry: VerificationTelemetry | undefined },
  method: string | undefined,
  error: unknown,
  route?: string,
): void {
  const telemetry = config.telemetry
  if (telemetry === undefined || (typeof error === 'object' && error !== null && told.has(error))) return
  const seen: CheckSeen = {
    keyId: undefined,
    keyFound: undefined,
    key: undefined,
    request: { message: { method: method ?? '' } },
    ctx: route === undefined ? undefined : { route },
  }
  recordTelemetry(telemetry, clock(), seen, true, error)
}
