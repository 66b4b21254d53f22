import { SigilError, VerificationError } from '@sigil/core'
import type { VerifierConfig } from './options.js'
import { reportInternal } from './problem.js'

/** The error a store failure becomes: a store's own 4xx verdict as is, anything else a generic 503. */
const generic = new WeakSet<object>()
export function storeError(e: unknown, what: string): unknown {
  if (typeof e === 'object' && e !== null && generic.has(e)) return e
  if (e instanceof SigilError && e.status < 500 && e.code !== 'CONFIGURATION_INVALID') return e
  // The detail (a decrypt failure, a driver message, a key id) is for the server's log, not the
  // caller: the cause travels on the error and is reported by `onError` under a correlation id.
  const err = new VerificationError('STORE_UNAVAILABLE', `${what} did not answer`, { cause: e })
  generic.add(err)
  return err
}

export async function withDeadline<T>(what: string, ms: number, v: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      v,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms)
      }),
    ])
  } catch (e) {
    throw storeError(e, what)
  } finally {
    if (timer) clearTimeout(timer)
  }
}

/**
 * Fail closed on a store failure: the generic 503 is reported to `onError` (with its cause and a
 * correlation id) and thrown; a store's own 4xx verdict is thrown as is.
 */
export function failStore(cfg: VerifierConfig, what: string, e: unknown): never {
  // A key whose stored record cannot be used: permanent, so a 403 with a stable
  // code and no Retry-After; the key id and field go to `onError`, the caller gets a generic detail.
  if (e instanceof SigilError && e.code === 'KEY_RECORD_INVALID' && !generic.has(e)) {
    const id = reportInternal(e, cfg.onError)
    const err = new VerificationError(
      'KEY_RECORD_INVALID',
      `the stored record of this key cannot be used until its operator fixes it; quote correlation id ${id}`,
      { cause: e },
    )
    generic.add(err)
    throw err
  }
  const err = storeError(e, what)
  if (err instanceof VerificationError && err.code === 'STORE_UNAVAILABLE') reportInternal(err, cfg.onError)
  throw err
}
