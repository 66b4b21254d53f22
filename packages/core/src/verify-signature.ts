// The one verification path for a signed message, request (SPEC §2) or response (SPEC §5):
// select the signature by tag → check the profile → rebuild the base → verify the signature.
// The server's verifier runs these steps in SPEC order with time and key checks in between;
// verifyResponseMessage runs them back to back. What differs between the two is data — the
// refusal codes, the required components, whether a nonce is required — never code. The table of
// algorithms is the one place a second family (Ed25519, ECDSA) is added.
import type { Component } from './components.js'
import { ComponentError, type SigilErrorCode, VerificationError } from './errors.js'
import type { Hmac } from './hmac.js'
import type { Message } from './message.js'
import { PRESIGNED_TAG } from './presigned-url.js'
import { signatureBase } from './signature-base.js'
import type { SignatureEntry } from './signature-input.js'

/** What a verification path answers with for each kind of refusal, and how it builds the error. */
export interface Refusals {
  /** No signature carries the expected tag (or the one untagged one is a presigned URL's). */
  missing: SigilErrorCode
  /** More than one signature carries the tag, or not exactly one when no tag is expected. */
  malformed: SigilErrorCode
  /** A required parameter or component is missing, or `alg` is not the key's algorithm. */
  profile: SigilErrorCode
  /** A covered component cannot be derived, or the signature does not verify. */
  invalid: SigilErrorCode
  /** Build the error; it is thrown by the caller of `refuse`. */
  error(code: SigilErrorCode, message: string, cause?: unknown): Error
}

/** A request's refusals (SPEC §2, §3). */
export const REQUEST_REFUSALS: Refusals = {
  missing: 'SIGNATURE_MISSING',
  malformed: 'SIGNATURE_MALFORMED',
  profile: 'PROFILE_VIOLATION',
  invalid: 'SIGNATURE_INVALID',
  error: (code, message) => new VerificationError(code, message),
}

/** Throw the error `r` builds for `code`. */
export function refuse(r: Refusals, code: SigilErrorCode, message: string, cause?: unknown): never {
  throw r.error(code, message, cause)
}

/** A signature algorithm: how a signature over a base is checked with a key's material. */
export interface SignatureAlgorithm {
  verify(hmac: Hmac, key: Uint8Array, base: string, signature: Uint8Array): boolean | Promise<boolean>
}

/**
 * Every algorithm Sigil verifies, by its `alg` name. v1 has one family (HMAC); the algorithm of a
 * signature always comes from the key record, never from the header (`alg` is only compared).
 */
export const ALGORITHMS = {
  'hmac-sha256': { verify: (hmac, key, base, signature) => hmac.verify(key, base, signature) },
} as const satisfies Record<string, SignatureAlgorithm>

/** The name of an algorithm in {@link ALGORITHMS}. */
export type AlgorithmName = keyof typeof ALGORITHMS

/** The algorithm a key without an `algorithm` field uses, and the `alg` a signer emits by default. */
export const DEFAULT_ALGORITHM: AlgorithmName = 'hmac-sha256'

/** The algorithm of a key record's `algorithm` field, or undefined when Sigil does not know it. */
export function algorithmOf(name: string | undefined): SignatureAlgorithm | undefined {
  return name === undefined
    ? ALGORITHMS[DEFAULT_ALGORITHM]
    : Object.hasOwn(ALGORITHMS, name)
      ? ALGORITHMS[name as AlgorithmName]
      : undefined
}

/**
 * The signature carrying `tag`: exactly one must. With `tag` null, the one signature present,
 * which may not be a presigned URL's (SPEC §7: a URL's signature never counts as headers).
 */
export function selectSignature(entries: SignatureEntry[], tag: string | null, r: Refusals): SignatureEntry {
  if (tag === null) {
    if (entries.length !== 1) refuse(r, r.malformed, 'expected exactly one signature')
    const only = entries[0] as SignatureEntry
    if (only.params.tag === PRESIGNED_TAG) refuse(r, r.missing, 'a URL signature cannot be sent as headers')
    return only
  }
  let found: SignatureEntry | undefined
  for (const e of entries) {
    if (e.params.tag !== tag) continue
    if (found) refuse(r, r.malformed, 'more than one signature carries the expected tag')
    found = e
  }
  return found ?? refuse(r, r.missing, 'no signature carries the expected tag')
}

/** What a signature must carry: the components by id, and whether a nonce is required. */
export interface Profile {
  /** Component ids (`component(name).id`) the signature must cover. */
  required: readonly string[]
  nonce: boolean
}

/**
 * The profile (SPEC §2 step 2, §5): `keyid` and `created` present, a nonce when required, `alg`
 * absent or the default algorithm, and every required component covered.
 */
export function checkProfile(entry: SignatureEntry, profile: Profile, r: Refusals): void {
  const p = entry.params
  if (p.keyid === undefined) refuse(r, r.profile, 'keyid is required')
  if (p.created === undefined) refuse(r, r.profile, 'created is required')
  if (profile.nonce && p.nonce === undefined) refuse(r, r.profile, 'nonce is required')
  if (p.alg !== undefined && p.alg !== DEFAULT_ALGORITHM) refuse(r, r.profile, `alg must be ${DEFAULT_ALGORITHM}`)
  const required = profile.required
  const components = entry.components
  for (let k = 0; k < required.length; k++) {
    const id = required[k] as string
    let covered = false
    for (let i = 0; i < components.length && !covered; i++) covered = (components[i] as Component).id === id
    if (!covered) refuse(r, r.profile, `signature must cover ${id}`)
  }
}

/** The signature base of `entry` over `message`; a component that cannot be derived is refused as invalid. */
export function baseOf(message: Message, entry: SignatureEntry, r: Refusals): string {
  try {
    return signatureBase(message, entry.components, entry.paramsValue)
  } catch (e) {
    if (e instanceof ComponentError) refuse(r, r.invalid, e.message, e)
    throw e
  }
}

/** Check `entry`'s signature over `base` with `key` under `algorithm` (constant time). */
export function verifyEntry(
  algorithm: SignatureAlgorithm,
  hmac: Hmac,
  key: Uint8Array,
  base: string,
  entry: SignatureEntry,
): boolean | Promise<boolean> {
  return algorithm.verify(hmac, key, base, entry.signature)
}
