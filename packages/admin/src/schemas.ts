import { metadataSchema } from '@sigil/keys'
import { z } from 'zod'

// One set of zod schemas validates every request and generates the OpenAPI document, so the two
// cannot drift.

const scope = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w:.*/-]+$/, 'letters, digits and _ : . * / -')
const rateLimits = z
  .object({
    rate: z
      .object({ points: z.number().int().min(1), windowMs: z.number().int().min(1000).describe('Window length, in milliseconds.') })
      .strict()
      .optional(),
    quota: z
      .object({ points: z.number().int().min(1), periodMs: z.number().int().min(1000).describe('Quota period, in milliseconds.') })
      .strict()
      .optional(),
  })
  .strict()

export const createKeyBody = z
  .object({
    principal: z.string().min(1).max(256).describe('Who the key acts for (a partner, user or service id).'),
    scopes: z.array(scope).max(64).optional(),
    expiresAt: z.iso.datetime().optional().describe('The key stops working at this instant.'),
    rateLimits: rateLimits.optional(),
    metadata: metadataSchema.optional().describe('At most 16 levels deep and 16 KiB as JSON.'),
    test: z
      .boolean()
      .optional()
      .describe('A test key: token sigil_tk_…, verified.test, and failed requests explained to the partner (SPEC §4).'),
  })
  .strict()
  .meta({ id: 'CreateKey' })

export const updateKeyBody = z
  .object({
    scopes: z.array(scope).max(64).optional().describe('Replace the scopes.'),
    addScopes: z.array(scope).max(64).optional().describe('Add to the scopes current when the change commits.'),
    removeScopes: z.array(scope).max(64).optional().describe('Remove from the scopes current when the change commits.'),
    expiresAt: z.iso.datetime().nullable().optional().describe('Set the expiry (a past instant expires the key now; null clears it).'),
    rateLimits: rateLimits.nullable().optional(),
    metadata: metadataSchema.nullable().optional().describe('Replace the metadata (at most 16 levels deep, 16 KiB as JSON).'),
    mergeMetadata: metadataSchema.optional().describe('Shallow-merge; a null value removes that entry.'),
    ifVersion: z.number().int().min(0).optional().describe('Apply only if the key is still at this version (else 409 KEY_CONFLICT).'),
  })
  .strict()
  .refine((b) => !(b.scopes && (b.addScopes || b.removeScopes)), 'scopes replaces; use it without addScopes/removeScopes')
  .refine((b) => !(b.metadata !== undefined && b.mergeMetadata), 'metadata replaces; use it without mergeMetadata')
  .meta({ id: 'UpdateKey' })

export const rotateKeyBody = z
  .object({
    graceMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .optional()
      .describe('How long the old key keeps working, in milliseconds. Default 86 400 000 (24 h).'),
  })
  .strict()
  .meta({ id: 'RotateKey' })

export const listKeysQuery = z
  .object({
    principal: z.string().min(1).max(256).optional(),
    status: z.enum(['active', 'revoked', 'expired']).optional(),
    q: z.string().max(256).optional().describe('Substring of the key id or principal.'),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    after: z.string().max(128).optional().describe('Cursor: the last key id of the previous page.'),
  })
  .strict()

export const usageQuery = z.object({ from: z.iso.date().optional(), to: z.iso.date().optional() }).strict()

export const eventsQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(500).optional(), before: z.coerce.number().int().min(1).optional() })
  .strict()

export const keyInfo = z
  .object({
    keyId: z.string(),
    principal: z.string(),
    scopes: z.array(z.string()),
    status: z.enum(['active', 'revoked', 'expired']),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime().optional(),
    notAfter: z.iso.datetime().optional(),
    revokedAt: z.iso.datetime().optional(),
    replacedBy: z.string().optional(),
    version: z.number().optional().describe('Row version, for ifVersion.'),
    rateLimits: rateLimits.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    test: z.boolean().optional().describe('True for a test key.'),
  })
  .meta({ id: 'Key' })

export const createdKey = z
  .object({
    keyId: z.string(),
    token: z.string().describe('Shown once. Hand it to the client; it is never stored in clear.'),
    key: keyInfo,
  })
  .meta({ id: 'CreatedKey' })

export const rotatedKey = createdKey.extend({ previous: keyInfo }).meta({ id: 'RotatedKey' })

export const keyPage = z.object({ items: z.array(keyInfo), next: z.string().optional() }).meta({ id: 'KeyPage' })

export const usageReport = z
  .object({
    keyId: z.string(),
    from: z.string(),
    to: z.string(),
    days: z.array(z.object({ date: z.string(), accepted: z.number(), rejected: z.record(z.string(), z.number()) })),
    totals: z.object({
      accepted: z.number(),
      rejected: z.record(z.string(), z.number()),
      lastUsedAt: z.iso.datetime().optional().describe('The latest accepted request in the range (absent: none).'),
    }),
  })
  .meta({ id: 'Usage' })

export const auditEvent = z
  .object({
    id: z.number(),
    at: z.iso.datetime(),
    actor: z.string(),
    action: z.string(),
    keyId: z.string().optional(),
    principal: z.string().optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'AuditEvent' })

export const eventPage = z.object({ items: z.array(auditEvent), next: z.number().optional() }).meta({ id: 'EventPage' })

export const problem = z
  .object({ type: z.string().optional(), title: z.string(), status: z.number(), code: z.string(), detail: z.string().optional() })
  .meta({ id: 'Problem' })
