import {
  type BareItem,
  type InnerList,
  isInnerList,
  type Parameters,
  serializeInnerList,
  serializeInteger,
  serializeKey,
  serializeString,
} from 'structured-headers'
import { type Component, fromItem } from './components.js'
import { ComponentError, VerificationError } from './errors.js'
import { parseDictionaryLimited } from './structured-fields.js'

/** Parser limits; every one is a clean `SIGNATURE_MALFORMED` when exceeded. */
export interface SignatureLimits {
  /** Max length of `Signature-Input` and of `Signature`. Default 8192. */
  maxHeaderBytes: number
  /** Max labels (signatures) per message. Default 8. */
  maxSignatures: number
  /** Max covered components per signature. Default 32. */
  maxComponents: number
  /** Max length of any string parameter (keyid, nonce, tag). Default 256. */
  maxParamLength: number
}

/** The limits verify() uses unless told otherwise. */
export const DEFAULT_LIMITS: SignatureLimits = Object.freeze({
  maxHeaderBytes: 8192,
  maxSignatures: 8,
  maxComponents: 32,
  maxParamLength: 256,
})

/** The parameters of RFC 9421 §2.3 (others are kept in `raw`). */
export interface SignatureParams {
  created?: number
  expires?: number
  nonce?: string
  keyid?: string
  alg?: string
  tag?: string
}

/** One signature found in a message: label, what it covers, its parameters and its bytes. */
export interface SignatureEntry {
  label: string
  components: Component[]
  params: SignatureParams
  /** All parameters as received, in order. */
  raw: Parameters
  /** The `@signature-params` value: the strict serialization of the received inner list. */
  paramsValue: string
  signature: Uint8Array
}

const INT_PARAMS = new Set(['created', 'expires'])
const STRING_PARAMS = new Set(['nonce', 'keyid', 'alg', 'tag'])

function readParams(raw: Parameters, limits: SignatureLimits): SignatureParams {
  const out: SignatureParams = {}
  for (const [k, v] of raw) {
    if (INT_PARAMS.has(k)) {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new VerificationError('SIGNATURE_MALFORMED', `${k} must be an integer`)
      ;(out as Record<string, unknown>)[k] = v
    } else if (STRING_PARAMS.has(k)) {
      if (typeof v !== 'string') throw new VerificationError('SIGNATURE_MALFORMED', `${k} must be a string`)
      if (v.length > limits.maxParamLength) throw new VerificationError('SIGNATURE_MALFORMED', `${k} is too long`)
      ;(out as Record<string, unknown>)[k] = v
    }
  }
  return out
}

/**
 * Parse `Signature-Input` and `Signature` (RFC 9421 §4) within limits. Labels must be unique in
 * each header and the two headers must carry the same set of labels.
 */
export function parseSignatures(
  signatureInput: string | null,
  signature: string | null,
  limits: SignatureLimits = DEFAULT_LIMITS,
): SignatureEntry[] {
  if (signatureInput === null || signature === null) {
    throw new VerificationError('SIGNATURE_MISSING', 'request carries no Signature and Signature-Input')
  }
  const inputs = parseDictionaryLimited(signatureInput, limits.maxHeaderBytes, 'Signature-Input', true)
  const sigs = parseDictionaryLimited(signature, limits.maxHeaderBytes, 'Signature', true)
  if (inputs.size > limits.maxSignatures || sigs.size > limits.maxSignatures) {
    throw new VerificationError('SIGNATURE_MALFORMED', `more than ${limits.maxSignatures} signatures`)
  }
  if (inputs.size !== sigs.size) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature and Signature-Input labels differ')
  const out: SignatureEntry[] = []
  for (const [label, member] of inputs) {
    const sig = sigs.get(label)
    if (!sig) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature and Signature-Input labels differ')
    if (!isInnerList(member)) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature-Input member is not an inner list')
    if (isInnerList(sig) || !(sig[0] instanceof ArrayBuffer)) {
      throw new VerificationError('SIGNATURE_MALFORMED', 'Signature member is not a byte sequence')
    }
    const [items, raw] = member
    if (items.length > limits.maxComponents) throw new VerificationError('SIGNATURE_MALFORMED', 'too many covered components')
    let components: Component[]
    try {
      components = items.map(fromItem)
    } catch (e) {
      if (e instanceof ComponentError) throw new VerificationError('SIGNATURE_MALFORMED', e.message)
      throw e
    }
    out.push({
      label,
      components,
      params: readParams(raw, limits),
      raw,
      paramsValue: serializeInnerList(member as InnerList),
      signature: new Uint8Array(sig[0]),
    })
  }
  return out
}

/**
 * Serialize covered components and parameters as the inner list that is both the
 * `@signature-params` value and the `Signature-Input` member. Parameter order is kept.
 */
export function serializeSignatureParams(
  components: readonly Component[],
  params: SignatureParams & Record<string, BareItem | undefined>,
): string {
  let out = '('
  for (let i = 0; i < components.length; i++) out += (i ? ' ' : '') + (components[i] as Component).id
  out += ')'
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue
    if (typeof v === 'number') out += `;${serializeKey(k)}=${serializeInteger(v)}`
    else if (typeof v === 'string') out += `;${serializeKey(k)}=${serializeString(v)}`
    else throw new ComponentError(`unsupported signature parameter type for ${k}`)
  }
  return out
}
