import { type SigilErrorCode, VerificationError } from '@sigil/core'

/**
 * What a verification promise came to: `accepted`, or the code of the `VerificationError` it
 * rejected with (including `ResponseVerificationError`). Anything else is rethrown, so a crash
 * never passes for a rejection.
 */
export async function outcomeOf(p: Promise<unknown>): Promise<SigilErrorCode | 'accepted'> {
  try {
    await p
    return 'accepted'
  } catch (e) {
    if (e instanceof VerificationError) return e.code
    throw e
  }
}
