// Loads the shared known-answer vectors so core, client and server tests run the same cases.

import rfc8188 from './rfc8188.json' with { type: 'json' }
import rfc9421 from './rfc9421.json' with { type: 'json' }
import rfc9530 from './rfc9530.json' with { type: 'json' }
import sigilEceV1 from './sigil-ece-v1.json' with { type: 'json' }
import sigilUrlV1 from './sigil-url-v1.json' with { type: 'json' }
import sigilV1 from './sigil-v1.json' with { type: 'json' }

export interface VectorRequest {
  method: string
  url: string
  headers: [string, string][]
  body?: string
}

export const RFC9421 = rfc9421.cases as Array<{
  name: string
  source: string
  message: 'request' | 'response'
  request?: VectorRequest
  response?: { status: number; headers: [string, string][]; body: string }
  signatureInput: string
  signature?: string
  secretBase64?: string
  base: string
}>

export const RFC9530 = rfc9530.cases as Array<{
  name: string
  source: string
  body: string
  algorithm: 'sha-256' | 'sha-512'
  digest: string
}>

export const SIGIL_V1 = sigilV1.cases as Array<{
  name: string
  source: string
  request: VectorRequest
  keyId: string
  secretBase64: string
  created: number
  nonce: string
  expiresIn?: number
  signatureInput: string
  signature: string
  base: string
}>

/** A Web Request for a vector, without any signature headers. */
export function vectorRequest(v: VectorRequest): Request {
  return new Request(v.url, {
    method: v.method,
    headers: v.headers.filter(([k]) => k.toLowerCase() !== 'host'),
    body: v.body,
  })
}

export function secretOf(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'))
}

export const SIGIL_URL_V1 = sigilUrlV1.cases as Array<{
  name: string
  source: string
  /** Method the link is used with (HEAD for a GET link). */
  method: string
  keyId: string
  secretBase64: string
  created: number
  nonce: string
  expiresIn: number
  url: string
  base: string
  signatureInput: string
  signature: string
}>

/** RFC 8188 §3 examples: the key is the RFC 8188 IKM; byte fields are base64url. */
export const RFC8188 = rfc8188.cases as Array<{
  name: string
  source: string
  key: string
  salt?: string
  rs: number
  keyId: string
  plaintext: string
  cek?: string
  nonce?: string
  encrypted: string
}>

/** Sigil's encryption-key derivation (SPEC §8) and whole bodies under it; byte fields are base64url. */
export const SIGIL_ECE_V1 = sigilEceV1.cases as Array<{
  name: string
  source: string
  secretBase64: string
  keyId: string
  key: string
  salt: string
  rs: number
  plaintext: string
  encrypted: string
}>

export function fromB64u(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64url'))
}
