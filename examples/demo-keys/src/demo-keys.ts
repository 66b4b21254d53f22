// The demo key set shared by examples/express, fastify, hono, nextjs-route and client.
//
//   key id              principal        scopes                       secret (base64url, 32 bytes)
//   k_demo_partner_1    partner-demo     orders:read orders:write     xfG54gxvsKtEjtDkcbAz54PN5cIeHtpf-HluC4qs3Gs
//   k_demo_readonly_1   readonly-demo    orders:read                  Kj5M7xX5hvkgE_MF1VnyOZJKNbuWxOB6tVb9ak3VNPc
//
// These secrets are public (they are SHA-256 of fixed strings). Real keys come from
// `sigil keys create` / @sigil/keys and are stored encrypted; never reuse these.
import type { KeyRecord, KeyResolver } from '@sigil/core'

// Web APIs only: these keys are also served by the Workers, Deno and Bun examples (no Buffer there).
const fromBase64Url = (s: string): Uint8Array => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))

const record = (keyId: string, principal: string, scopes: string[], secret: string): KeyRecord => ({
  keyId,
  principal,
  scopes,
  secret: fromBase64Url(secret),
  status: 'active',
  createdAt: new Date('2026-01-01T00:00:00Z'),
})

/** Every demo key, by id. */
export const DEMO_KEYS: ReadonlyMap<string, KeyRecord> = new Map(
  [
    record('k_demo_partner_1', 'partner-demo', ['orders:read', 'orders:write'], 'xfG54gxvsKtEjtDkcbAz54PN5cIeHtpf-HluC4qs3Gs'),
    record('k_demo_readonly_1', 'readonly-demo', ['orders:read'], 'Kj5M7xX5hvkgE_MF1VnyOZJKNbuWxOB6tVb9ak3VNPc'),
  ].map((k) => [k.keyId, k]),
)

/** The key store example servers verify against. */
export const demoKeyStore: KeyResolver = { get: (keyId) => DEMO_KEYS.get(keyId) }

/** Credentials of the partner key (read and write), for example clients. */
export const DEMO_PARTNER = { keyId: 'k_demo_partner_1', secret: (DEMO_KEYS.get('k_demo_partner_1') as KeyRecord).secret }

/** Credentials of the read-only key: writes with it are answered 403 SCOPE_DENIED. */
export const DEMO_READONLY = { keyId: 'k_demo_readonly_1', secret: (DEMO_KEYS.get('k_demo_readonly_1') as KeyRecord).secret }
