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
import { type FastInputMember, fastByteSequences, fastSignatureInput } from './fast-signatures.js'
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

function readParams(raw: Parameters, limits: SignatureLimits): SignatureParams {
  const out: SignatureParams = {}
  for (const [k, v] of raw) {
    switch (k) {
      case 'created':
      case 'expires':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw new VerificationError('SIGNATURE_MALFORMED', `${k} must be an integer`)
        out[k] = v
        break
      case 'nonce':
      case 'keyid':
      case 'alg':
      case 'tag':
        if (typeof v !== 'string') throw new VerificationError('SIGNATURE_MALFORMED', `${k} must be a string`)
        if (v.length > limits.maxParamLength) throw new VerificationError('SIGNATURE_MALFORMED', `${k} is too long`)
        out[k] = v
        break
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
  // Canonical, well-formed headers (what every conforming signer sends) take the fast path; it
  // yields exactly what the library would, and anything unusual goes to the library.
  if (signatureInput.length <= limits.maxHeaderBytes && signature.length <= limits.maxHeaderBytes) {
    const inputs = fastSignatureInput(signatureInput)
    const sigs = inputs && fastByteSequences(signature)
    if (inputs && sigs) return entriesFast(inputs, sigs, limits)
  }
  return parseSignaturesWithLibrary(signatureInput, signature, limits)
}

// Component lists by their serialized inner list: signers send the same few lists over and over.
const componentCache = new Map<string, readonly Component[]>()

function componentsOf(m: FastInputMember): Component[] {
  const hit = componentCache.get(m.list)
  if (hit) return hit.slice()
  let components: Component[]
  try {
    components = m.items.map((name) => fromItem([name, new Map()]))
  } catch (e) {
    if (e instanceof ComponentError) throw new VerificationError('SIGNATURE_MALFORMED', e.message)
    throw e
  }
  if (componentCache.size < 256) componentCache.set(m.list, Object.freeze(components.slice()))
  return components
}

function entriesFast(inputs: FastInputMember[], sigs: Map<string, Uint8Array>, limits: SignatureLimits): SignatureEntry[] {
  // Same checks, same order and same errors as the library path below.
  if (inputs.length > limits.maxSignatures || sigs.size > limits.maxSignatures) {
    throw new VerificationError('SIGNATURE_MALFORMED', `more than ${limits.maxSignatures} signatures`)
  }
  if (inputs.length !== sigs.size) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature and Signature-Input labels differ')
  const out: SignatureEntry[] = []
  for (const m of inputs) {
    const signature = sigs.get(m.label)
    if (!signature) throw new VerificationError('SIGNATURE_MALFORMED', 'Signature and Signature-Input labels differ')
    if (m.items.length > limits.maxComponents) throw new VerificationError('SIGNATURE_MALFORMED', 'too many covered components')
    const components = componentsOf(m)
    out.push({ label: m.label, components, params: readParams(m.params, limits), raw: m.params, paramsValue: m.paramsValue, signature })
  }
  return out
}

/**
 * {@link parseSignatures} through the structured-headers library only: the reference the fast
 * path is tested against.
 * @internal
 */
export function parseSignaturesWithLibrary(
  signatureInput: string,
  signature: string,
  limits: SignatureLimits = DEFAULT_LIMITS,
): SignatureEntry[] {
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
  for (const k in params) {
    const v = params[k]
    if (v === undefined) continue
    const key = KNOWN_PARAM_KEYS.has(k) ? k : serializeKey(k)
    if (typeof v === 'number') out += `;${key}=${Number.isSafeInteger(v) && Math.abs(v) < 1e15 ? String(v) : serializeInteger(v)}`
    else if (typeof v === 'string') out += `;${key}=${isPlainString(v) ? `"${v}"` : serializeString(v)}`
    else throw new ComponentError(`unsupported signature parameter type for ${k}`)
  }
  return out
}

const KNOWN_PARAM_KEYS = new Set(['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'])

/** True when the structured-field string serialization of `s` is `"s"` (no escapes, all printable ASCII). */
function isPlainString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false
  }
  return true
}
