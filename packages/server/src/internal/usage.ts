import type { SigilErrorCode } from '@sigil/core'

/** One verification outcome, handed to a {@link UsageRecorder} off the request path. */
export interface UsageEvent {
  /** Key id from the signature when it could be read. */
  keyId?: string
  principal?: string
  /**
   * True once the key store knew `keyId`. Every other `keyId` — unknown, or read from a request
   * rejected before the lookup (e.g. `CLOCK_SKEW`) — is whatever the client sent: a recorder that
   * keys storage by id must store per id only events with this flag (or `accepted`), and count
   * the rest in one bounded bucket (as `@sigil/redis` does), so forged ids create no state.
   */
  keyFound?: boolean
  outcome: 'accepted' | SigilErrorCode | 'INTERNAL_ERROR'
  at: Date
  address?: string
}

/**
 * Receives usage events. `record` must not block: queue and flush in batches (as
 * `@sigil/redis`'s recorder does). Errors and rejections are swallowed by the verifier.
 */
export interface UsageRecorder {
  record(event: UsageEvent): void | Promise<void>
}

/** Hand an event to a recorder without ever delaying or failing the request. */
export function recordUsage(recorder: UsageRecorder | undefined, event: UsageEvent): void {
  if (!recorder) return
  try {
    const r = recorder.record(event)
    if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {})
  } catch {
    // usage is best effort by design (SPEC §2.9)
  }
}
