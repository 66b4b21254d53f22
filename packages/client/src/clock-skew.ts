/** The default largest clock correction learnt from an unverified `CLOCK_SKEW` answer: SPEC §2's window. */
export const DEFAULT_MAX_CLOCK_CORRECTION_MS = 300_000

async function problemCode(res: Response): Promise<string | undefined> {
  if (!(res.headers.get('content-type') ?? '').includes('json')) return undefined
  try {
    const body = (await res.clone().json()) as { code?: unknown }
    return typeof body.code === 'string' ? body.code : undefined
  } catch {
    return undefined
  }
}

/**
 * The clock offset a `401 CLOCK_SKEW` answer asks for, or `undefined` when it must not be applied.
 *
 * The 401 is never signed (the verifier rejects before it knows the key is right), so an on-path
 * attacker can forge it: with a `Date` a day ahead it would make us sign requests the server refuses
 * now (never recording their nonce) and accepts a day later — a pre-signed replay. So a correction
 * is applied only when it is no larger than the server's acceptance window (a signature made with it
 * is acceptable *now*, and its nonce is recorded when it is), and the caller keeps it only after the
 * retried request was accepted.
 */
export async function skewCorrection(res: Response, localNowMs: number, maxCorrectionMs: number): Promise<number | undefined> {
  if (res.status !== 401 || (await problemCode(res)) !== 'CLOCK_SKEW') return undefined
  const date = Date.parse(res.headers.get('date') ?? '')
  if (!Number.isFinite(date)) return undefined
  const offset = date - localNowMs
  // Backwards (our clock is fast) is safe at any size: a signature dated in the past can only be
  // refused, never become valid later. Forwards is what a forged 401 would ask for: bounded.
  return offset <= maxCorrectionMs ? offset : undefined
}
