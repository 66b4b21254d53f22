import type { SignatureEntry } from '@sigil/core'

/** One verifier step as `explain` reports it; `ok: null` means skipped. */
export interface Check {
  step: string
  ok: boolean | null
  code?: string
  detail: string
}

const REQUIRED = ['@method', '@authority', '@path', '@query']

/**
 * The profile, time and key steps of the verifier (SPEC §2, steps 2-4), checked on a parsed
 * signature, each with the code a verifier would answer.
 *
 * @example
 * ```ts
 * const checks = profileChecks(entry, body, Math.floor(Date.now() / 1000), 300, token.keyId)
 * ```
 */
export function profileChecks(entry: SignatureEntry, body: Uint8Array | null, now: number, window: number, keyId?: string): Check[] {
  const out: Check[] = []
  const p = entry.params
  const names = new Set(entry.components.map((c) => c.name))
  const missingParams = (['keyid', 'created', 'nonce'] as const).filter((k) => p[k] === undefined)
  const missing = REQUIRED.filter((n) => !names.has(n))
  if (missingParams.length) {
    out.push({ step: 'profile', ok: false, code: 'PROFILE_VIOLATION', detail: `missing parameter(s): ${missingParams.join(', ')}` })
  } else if (missing.length) {
    out.push({ step: 'profile', ok: false, code: 'PROFILE_VIOLATION', detail: `required component(s) not covered: ${missing.join(' ')}` })
  } else if (p.alg !== undefined && p.alg !== 'hmac-sha256') {
    out.push({ step: 'profile', ok: false, code: 'PROFILE_VIOLATION', detail: `alg is "${p.alg}", expected "hmac-sha256"` })
  } else if (body && body.length > 0 && !names.has('content-digest')) {
    out.push({ step: 'profile', ok: false, code: 'DIGEST_MISSING', detail: 'the request has a body but content-digest is not covered' })
  } else {
    out.push({ step: 'profile', ok: true, detail: `covers ${entry.components.map((c) => c.id).join(' ')}` })
  }

  if (p.created !== undefined) {
    const skew = now - p.created
    if (Math.abs(skew) > window) {
      out.push({
        step: 'time',
        ok: false,
        code: 'CLOCK_SKEW',
        detail: `created is ${Math.abs(skew)} s in the ${skew > 0 ? 'past' : 'future'}; the window is ±${window} s`,
      })
    } else if (p.expires !== undefined && p.expires <= now) {
      out.push({ step: 'time', ok: false, code: 'SIGNATURE_EXPIRED', detail: `expired ${now - p.expires} s ago` })
    } else {
      out.push({ step: 'time', ok: true, detail: `created ${skew} s ago, within ±${window} s` })
    }
  }

  if (keyId === undefined) out.push({ step: 'key', ok: null, detail: `keyid "${p.keyid ?? ''}"; not checked (no credentials given)` })
  else if (keyId !== p.keyid) {
    out.push({
      step: 'key',
      ok: false,
      code: 'KEY_UNKNOWN',
      detail: `signed with key "${p.keyid ?? ''}" but the credentials are for "${keyId}"`,
    })
  } else out.push({ step: 'key', ok: true, detail: `keyid "${keyId}" matches the credentials` })
  return out
}
