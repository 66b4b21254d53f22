/**
 * What is wrong with a key's stored rate limits, or undefined when a rate limiter can apply them:
 * `rate` needs `points` (a positive integer) and `windowMs`, `quota` needs `points` and
 * `periodMs` (positive milliseconds), nothing else. The one rule, read by the server's rate
 * limiters, by the key stores when they convert an older row and by `sigil keys show` / `migrate`.
 * No zod: the rate limiter runs it on every request.
 *
 * @example
 * ```ts
 * rateLimitsProblem({ rate: { points: 5 } }) // { field: 'rate.windowMs', reason: 'must be a positive number of milliseconds' }
 * ```
 */
export function rateLimitsProblem(limits: unknown): { field: string; reason: string } | undefined {
  if (limits === undefined || limits === null) return undefined
  if (typeof limits !== 'object' || Array.isArray(limits)) return { field: '', reason: 'must be an object with rate and/or quota' }
  for (const [part, duration] of [
    ['rate', 'windowMs'],
    ['quota', 'periodMs'],
  ] as const) {
    const v = (limits as Record<string, unknown>)[part]
    if (v === undefined) continue
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { field: part, reason: 'must be an object' }
    const o = v as Record<string, unknown>
    const points = o.points
    if (typeof points !== 'number' || !Number.isSafeInteger(points) || points <= 0)
      return { field: `${part}.points`, reason: 'must be a positive integer' }
    const d = o[duration]
    if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0)
      return { field: `${part}.${duration}`, reason: 'must be a positive number of milliseconds' }
    for (const k of Object.keys(o)) if (k !== 'points' && k !== duration) return { field: `${part}.${k}`, reason: 'is not a known field' }
  }
  for (const k of Object.keys(limits)) if (k !== 'rate' && k !== 'quota') return { field: k, reason: 'is not a known field' }
  return undefined
}
