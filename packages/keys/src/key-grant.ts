import { ConfigurationError, type RateLimits, SigilError } from '@sigil/core'
import { z } from 'zod'

/**
 * What an actor may do to keys: the one authorization rule of the key plane. Every
 * path that yields a working key — create, rotate, restore, import; through the admin API, the
 * dashboard, the CLI and the library — runs {@link authorizeNewKey} against the actor's grant,
 * and the store counts the principal's working keys (keys in a rotation grace included) in the
 * same atomic step as the write. An omitted field is no limit: `{}` ({@link FULL_GRANT}) is the
 * operator's authority (the CLI, the library, the dashboard's operator, an `admin` API key).
 *
 * @example
 * ```ts
 * const partner: KeyGrant = { principal: 'acme', scopes: ['orders:read'], maxKeys: 3, extendExpiry: false, editLimits: false }
 * await store.create({ principal: 'acme', scopes: ['orders:read'] }, { grant: partner })
 * ```
 */
export interface KeyGrant {
  /** Only this principal's keys: others' are `KEY_UNKNOWN` (their ids are not revealed). */
  principal?: string
  /** Scopes it may put on a working key it creates, rotates or adds to. */
  scopes?: readonly string[]
  /** Most working keys of the principal after the change (active, or still in a rotation grace). */
  maxKeys?: number
  /**
   * May it give a key a later expiry than the key it replaces or edits (or none where it had
   * one)? Default true. Without it a rotation keeps the old key's expiry as its latest.
   */
  extendExpiry?: boolean
  /** May it change the rate limits and metadata of a key? Default true. */
  editLimits?: boolean
}

/** The operator's authority: no limit on principal, scopes, count, expiry or limits. */
export const FULL_GRANT: Readonly<KeyGrant> = Object.freeze({})

/** zod schema of {@link KeyGrant}; stores validate a grant before using it. */
export const keyGrantSchema = z
  .object({
    principal: z.string().min(1).max(256).optional(),
    scopes: z.array(z.string()).max(256).optional(),
    maxKeys: z.number().int().min(0).optional(),
    extendExpiry: z.boolean().optional(),
    editLimits: z.boolean().optional(),
  })
  .strict()

/** A validated grant, or a `ConfigurationError` naming the bad field. */
export function parseKeyGrant(grant: KeyGrant | undefined): KeyGrant {
  if (grant === undefined) return FULL_GRANT
  const r = keyGrantSchema.safeParse(grant)
  if (!r.success) {
    const issue = r.error.issues[0]
    throw new ConfigurationError(`invalid key grant: ${issue?.path.join('.') || '(grant)'}: ${issue?.message ?? 'invalid'}`, {
      cause: r.error,
    })
  }
  return grant
}

/** A key id another principal's key answers to: unknown, so ids of other principals are not revealed. */
export function authorizeKeyAccess(grant: KeyGrant, principal: string): void {
  if (grant.principal !== undefined && grant.principal !== principal) throw new SigilError('KEY_UNKNOWN', 'no key with that id')
}

function checkScopes(grant: KeyGrant, scopes: readonly string[]): void {
  if (!grant.scopes) return
  for (const s of scopes) {
    if (!grant.scopes.includes(s)) throw new SigilError('SCOPE_NOT_ALLOWED', `scopes: ${s} is not a scope this actor may grant`)
  }
}

/** Is expiry `next` later than `bound` (undefined: never expires)? */
function later(next: Date | undefined | null, bound: Date | undefined): boolean {
  if (bound === undefined) return false
  return next === undefined || next === null || next.getTime() > bound.getTime()
}

/**
 * The checks every path that yields a working key runs: the principal is the actor's, every
 * scope is one it may grant, and when the key replaces (rotation) or restores another, its
 * expiry is no later than that key's unless the actor may extend it. The count is the store's
 * (atomic with the write): pass `grant.maxKeys` to it.
 */
export function authorizeNewKey(
  grant: KeyGrant,
  key: { principal: string; scopes: readonly string[]; expiresAt?: Date | undefined },
  replaces?: { expiresAt?: Date | undefined },
): void {
  if (grant.principal !== undefined && key.principal !== grant.principal) {
    throw new SigilError('PRINCIPAL_NOT_ALLOWED', 'principal: this actor issues keys for its own principal only')
  }
  checkScopes(grant, key.scopes)
  if (replaces && grant.extendExpiry === false && later(key.expiresAt, replaces.expiresAt)) {
    throw new SigilError('EXPIRY_NOT_ALLOWED', 'expiresAt: no later than the expiry of the key it replaces')
  }
}

/**
 * The checks of an edit to a live key (scopes, expiry, limits): scopes it adds are ones the actor
 * may grant, a later expiry (or none) needs `extendExpiry`, rate limits and metadata `editLimits`.
 */
export function authorizeKeyChange(
  grant: KeyGrant,
  key: { principal: string; scopes: readonly string[]; expiresAt?: Date | undefined },
  change: {
    scopes?: readonly string[] | undefined
    expiresAt?: Date | null | undefined
    rateLimits?: RateLimits | null | undefined
    metadata?: Record<string, unknown> | null | undefined
  },
): void {
  authorizeKeyAccess(grant, key.principal)
  if (change.scopes)
    checkScopes(
      grant,
      change.scopes.filter((s) => !key.scopes.includes(s)),
    )
  if (change.expiresAt !== undefined && grant.extendExpiry === false && later(change.expiresAt, key.expiresAt)) {
    throw new SigilError('EXPIRY_NOT_ALLOWED', 'expiresAt: this actor may shorten a key’s life, not extend it')
  }
  if ((change.rateLimits !== undefined || change.metadata !== undefined) && grant.editLimits === false) {
    throw new SigilError('LIMITS_NOT_ALLOWED', 'rateLimits: this actor changes scopes and expiry only')
  }
}

/** The refusal of a write that would pass the principal's key count. */
export function keyLimitError(max: number): SigilError {
  return new SigilError(
    'KEY_LIMIT',
    `at most ${max} working keys for this principal (keys still in a rotation grace count): revoke one, or rotate with no grace`,
  )
}
