import type { SigilErrorCode } from '@sigil/core'

/** One verification outcome, handed to a {@link UsageRecorder} off the request path. */
export interface UsageEvent {
  /** Key id from the signature when it could be read. */
  keyId?: string
  principal?: string
  /**
   * True once the key store knew `keyId`. Rejections before the lookup (e.g. CLOCK_SKEW) carry a
   * client-chosen id: recorders that key storage by id can skip events without this flag.
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
