import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { checkOptions } from '@sigil/core/internal'
import { z } from 'zod'

/** Who a one-time link signs in: the operator, or a partner's developer limited to one principal. */
export type LinkClaims =
  /** `name`: who the audit log records (`operator:<name>`); `sigil admin login` puts the operator's. */
  { role: 'operator'; name?: string } | { role: 'partner'; principal: string; maxKeys: number; allowedScopes: readonly string[] }

/** The claims a link (and a session) may carry. @internal */
export const claimsSchema = z.union([
  z.object({ role: z.literal('operator'), name: z.string().min(1).max(128).optional() }).strict(),
  z
    .object({
      role: z.literal('partner'),
      principal: z.string().min(1).max(256),
      maxKeys: z.number().int().min(1).max(1000),
      allowedScopes: z.array(z.string().min(1).max(128)).max(64),
    })
    .strict(),
])

const envelope = z.object({ c: claimsSchema, exp: z.number().int(), jti: z.string().min(16).max(64) }).strict()

/** Default lifetime of a sign-in link: 15 minutes. Invites may live longer (`ttlMs`). */
export const LOGIN_LINK_TTL_MS = 15 * 60_000

/**
 * The portal's own secret, derived from the master key (HKDF-SHA256, info `sigil-admin v1`), so
 * `sigil admin login` on the operator's machine and `sigil admin serve` agree without another
 * secret to manage. It signs sign-in and invite links; it never encrypts keys.
 */
export function deriveAdminSecret(masterKey: string): Uint8Array {
  // The current entry only (`v2:<new>,v1:<old>` during a master-key rotation): links follow it.
  const current = (masterKey.split(',')[0] ?? '').trim()
  if (current.length < 16) throw new TypeError('a master key is needed to sign portal links (SIGIL_MASTER_KEY)')
  return new Uint8Array(hkdfSync('sha256', Buffer.from(current, 'utf8'), Buffer.alloc(0), 'sigil-admin v1', 32))
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url')

/**
 * A one-time sign-in (or invite) token: `base64url(JSON).base64url(HMAC)`. Whoever holds it can
 * sign in once before it expires, so it travels like a password reset link.
 */
export function createLinkToken(secret: Uint8Array, claims: LinkClaims, o: { ttlMs?: number; now?: () => number } = {}): string {
  checkOptions('link token options', o, ['ttlMs', 'now'])
  const parsed = claimsSchema.parse(claims)
  // `admin` is the operator's authority over every principal: an invite cannot hand it out (and
  // a partner's grant drops it from an older invite too).
  if (parsed.role === 'partner' && parsed.allowedScopes.includes('admin'))
    throw new TypeError('allowedScopes: a partner cannot be allowed the admin scope (it is the operator authority)')
  const body = b64url(
    JSON.stringify({ c: parsed, exp: (o.now ?? Date.now)() + (o.ttlMs ?? LOGIN_LINK_TTL_MS), jti: b64url(randomBytes(16)) }),
  )
  return `${body}.${b64url(createHmac('sha256', secret).update(body).digest())}`
}

/** The claims of a valid, unexpired token, or undefined. The caller makes it one-time (by `jti`). */
export function readLinkToken(
  secret: Uint8Array,
  token: string,
  now = Date.now(),
): { claims: LinkClaims; jti: string; exp: number } | undefined {
  if (token.length > 4096) return undefined
  const dot = token.indexOf('.')
  if (dot <= 0) return undefined
  const body = token.slice(0, dot)
  const mac = Buffer.from(token.slice(dot + 1), 'base64url')
  const expected = createHmac('sha256', secret).update(body).digest()
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined
  let data: unknown
  try {
    data = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  const e = envelope.safeParse(data)
  if (!e.success || e.data.exp <= now) return undefined
  return { claims: e.data.c as LinkClaims, jti: e.data.jti, exp: e.data.exp }
}
