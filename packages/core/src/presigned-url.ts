import { VerificationError } from './errors.js'

/** The `tag` of a presigned-URL signature. Never accepted from headers, and header signatures never from a URL. */
export const PRESIGNED_TAG = 'sigil-url'
/** Query parameter carrying the `Signature-Input` value of a presigned URL. */
export const PRESIGNED_INPUT_PARAM = 'sigil-input'
/** Query parameter carrying the `Signature` value of a presigned URL. */
export const PRESIGNED_SIGNATURE_PARAM = 'sigil'
/** Covered query parameter: the upload may carry at most this many bytes. */
export const PRESIGNED_MAX_BYTES_PARAM = 'sigil-max-bytes'
/** Covered query parameter: the upload's body must match this `Content-Digest` value. */
export const PRESIGNED_DIGEST_PARAM = 'sigil-content-digest'
/** Covered query parameter: the link works once (its nonce is recorded). */
export const PRESIGNED_ONCE_PARAM = 'sigil-once'
/** Longest lifetime a presigned URL may have: 7 days, as AWS SigV4 presigned URLs. */
export const PRESIGNED_MAX_LIFETIME_S = 7 * 24 * 3600
/** Lifetime of a presigned URL when the signer does not say: 15 minutes. */
export const PRESIGNED_DEFAULT_LIFETIME_S = 15 * 60

/** The parts of a presigned URL's query (SPEC §7). */
export interface PresignedQuery {
  /** The raw query without the two signature parameters, as covered by `@query` (`?` alone when empty). */
  baseQuery: string
  /** Decoded `Signature-Input` value. */
  signatureInput: string
  /** Decoded `Signature` value. */
  signature: string
  /** Bound upload size (`sigil-max-bytes`), if covered. */
  maxBytes?: number
  /** Bound upload digest (`sigil-content-digest`), if covered. */
  contentDigest?: string
  /** `sigil-once=1`: the signer asked for a single-use link. */
  once: boolean
}

const malformed = (message: string): never => {
  throw new VerificationError('SIGNATURE_MALFORMED', message)
}

function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return malformed('presigned URL parameter is not valid percent-encoding')
  }
}

/**
 * Split a raw query (`?…`, as on the wire) into the signature a presigned URL carries and the
 * query it covers. `null` when the query carries no signature parameter at all.
 *
 * Rules (SPEC §7): `sigil-input` and `sigil` each occur exactly once, in that order, as the last
 * two parameters, spelled exactly so; a parameter whose *decoded* name is one of them anywhere
 * else (a second copy, `sigil%2Dinput`, a moved one) makes the URL malformed, so an application
 * that decodes names can never see a parameter the verifier did not. The covered query is the
 * exact raw text before them; nothing is decoded, re-encoded or reordered. Bound parameters
 * (`sigil-max-bytes`, `sigil-content-digest`, `sigil-once`) stay in the covered query and may
 * occur at most once.
 */
export function splitPresignedQuery(query: string): PresignedQuery | null {
  if (query.length < 2 || !query.includes('sigil')) return null
  const body = query.slice(1)
  const pairs = body.split('&')
  const names = pairs.map((p) => {
    const eq = p.indexOf('=')
    return decodeComponent((eq < 0 ? p : p.slice(0, eq)).replace(/\+/g, ' '))
  })
  let inputs = 0
  let signatures = 0
  for (const n of names) {
    if (n === PRESIGNED_INPUT_PARAM) inputs++
    else if (n === PRESIGNED_SIGNATURE_PARAM) signatures++
  }
  if (inputs === 0 && signatures === 0) return null
  if (inputs !== 1 || signatures !== 1) malformed('presigned URL must carry sigil-input and sigil exactly once')
  const n = pairs.length
  const inputPair = pairs[n - 2] ?? ''
  const signaturePair = pairs[n - 1] ?? ''
  if (!inputPair.startsWith(`${PRESIGNED_INPUT_PARAM}=`) || !signaturePair.startsWith(`${PRESIGNED_SIGNATURE_PARAM}=`)) {
    malformed('sigil-input and sigil must be the last two query parameters, in that order')
  }
  const covered = pairs.slice(0, n - 2)
  const out: PresignedQuery = {
    baseQuery: `?${covered.join('&')}`,
    signatureInput: decodeComponent(inputPair.slice(PRESIGNED_INPUT_PARAM.length + 1)),
    signature: decodeComponent(signaturePair.slice(PRESIGNED_SIGNATURE_PARAM.length + 1)),
    once: false,
  }
  const seen = new Set<string>()
  for (let i = 0; i < covered.length; i++) {
    const name = names[i] as string
    if (name !== PRESIGNED_MAX_BYTES_PARAM && name !== PRESIGNED_DIGEST_PARAM && name !== PRESIGNED_ONCE_PARAM) continue
    if (seen.has(name)) malformed(`${name} occurs more than once`)
    seen.add(name)
    const raw = covered[i] as string
    const eq = raw.indexOf('=')
    const value = eq < 0 ? '' : decodeComponent(raw.slice(eq + 1))
    if (name === PRESIGNED_MAX_BYTES_PARAM) {
      if (!/^(0|[1-9][0-9]{0,14})$/.test(value)) malformed('sigil-max-bytes must be a non-negative integer')
      out.maxBytes = Number(value)
    } else if (name === PRESIGNED_DIGEST_PARAM) {
      if (value === '') malformed('sigil-content-digest is empty')
      out.contentDigest = value
    } else {
      if (value !== '1') malformed('sigil-once must be 1')
      out.once = true
    }
  }
  return out
}

/** Percent-encode a value for a query (RFC 3986 unreserved characters stay, everything else is escaped). */
export function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
