// A fast path for the common, already-canonical shapes of Signature-Input and Signature:
//   label=("@method" "content-digest");created=1;nonce="x";keyid="k", label2=(...)...
//   label=:base64:, label2=:base64:
// It accepts only inputs that the structured-headers parser would read the same way AND whose
// strict re-serialization is the input itself, so the `@signature-params` value is a substring.
// Anything else (component parameters, tokens, booleans, decimals, escapes, odd whitespace,
// duplicate labels or parameter keys, non-canonical integers or base64) returns undefined and the
// caller uses the library. Equivalence with the library is property-tested.
import type { BareItem, Parameters } from 'structured-headers'
import { fromBase64 } from './encoding.js'

/** One Signature-Input member as the fast path reads it. */
export interface FastInputMember {
  label: string
  /** The inner list without parameters, `(...)`: cache key for the component list. */
  list: string
  /** Component names (strings without parameters). */
  items: string[]
  params: Parameters
  /** The member value, byte-exact strict serialization. */
  paramsValue: string
}

const isKeyStart = (c: number) => (c >= 0x61 && c <= 0x7a) || c === 0x2a
const isKeyChar = (c: number) => isKeyStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e
// String content the serializer emits as is: printable ASCII except " and \.
const isPlainStringChar = (c: number) => c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c

function readKey(s: string, i: number): number {
  if (i >= s.length || !isKeyStart(s.charCodeAt(i))) return -1
  i++
  while (i < s.length && isKeyChar(s.charCodeAt(i))) i++
  return i
}

function readPlainString(s: string, i: number): number {
  // s[i] is the opening quote; returns the index after the closing quote, or -1.
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j)
    if (c === 0x22) return j + 1
    if (!isPlainStringChar(c)) return -1
  }
  return -1
}

/** After a member: end of input, or `,` OWS and the next member. Returns next start, length for end, -1 otherwise. */
function nextMember(s: string, i: number): number {
  if (i === s.length) return i
  if (s.charCodeAt(i) !== 0x2c) return -1
  i++
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++
  // A trailing comma is an error the library reports.
  return i < s.length ? i : -1
}

// The last inner list read and its items (shared: callers only read `items`).
let lastList: string | undefined
let lastItems: string[] = []

/** Fast read of a Signature-Input value; undefined means "use the library". */
export function fastSignatureInput(s: string): FastInputMember[] | undefined {
  const out: FastInputMember[] = []
  let i = 0
  if (s.length === 0) return undefined
  while (i < s.length) {
    const keyEnd = readKey(s, i)
    if (keyEnd < 0 || s.charCodeAt(keyEnd) !== 0x3d || s.charCodeAt(keyEnd + 1) !== 0x28) return undefined
    const label = s.slice(i, keyEnd)
    const start = keyEnd + 1
    let j = start + 1
    let items: string[] = []
    let list: string | undefined
    // Signers send the same inner list over and over: when it is the last one seen, reuse its
    // items and its string (whose hash V8 has cached, for the component cache).
    if (lastList !== undefined && s.startsWith(lastList, start)) {
      list = lastList
      items = lastItems
      j = start + lastList.length - 1
    } else if (s.charCodeAt(j) !== 0x29) {
      for (;;) {
        if (s.charCodeAt(j) !== 0x22) return undefined
        const end = readPlainString(s, j)
        if (end < 0) return undefined
        items.push(s.slice(j + 1, end - 1))
        const c = s.charCodeAt(end)
        if (c === 0x29) {
          j = end
          break
        }
        if (c !== 0x20 || s.charCodeAt(end + 1) !== 0x22) return undefined
        j = end + 1
      }
    }
    j++ // past ')'
    const listEnd = j
    if (list === undefined) {
      list = s.slice(start, listEnd)
      lastList = list
      lastItems = items
    }
    const params: Parameters = new Map<string, BareItem>()
    while (s.charCodeAt(j) === 0x3b) {
      const kEnd = readKey(s, j + 1)
      if (kEnd < 0 || s.charCodeAt(kEnd) !== 0x3d) return undefined
      const key = s.slice(j + 1, kEnd)
      if (params.has(key)) return undefined
      let v = kEnd + 1
      const c = s.charCodeAt(v)
      if (c === 0x22) {
        const end = readPlainString(s, v)
        if (end < 0) return undefined
        params.set(key, s.slice(v + 1, end - 1))
        j = end
      } else {
        const neg = c === 0x2d
        if (neg) v++
        let e = v
        while (e < s.length && s.charCodeAt(e) >= 0x30 && s.charCodeAt(e) <= 0x39) e++
        const digits = e - v
        // Canonical integers only: 1-15 digits, no leading zero, no -0, not a decimal.
        if (digits === 0 || digits > 15 || s.charCodeAt(e) === 0x2e) return undefined
        if (s.charCodeAt(v) === 0x30 && (digits > 1 || neg)) return undefined
        const n = Number(s.slice(v, e))
        params.set(key, neg ? -n : n)
        j = e
      }
    }
    for (const m of out) if (m.label === label) return undefined
    out.push({ label, list, items, params, paramsValue: s.slice(start, j) })
    i = nextMember(s, j)
    if (i < 0) return undefined
  }
  return out
}

/** Fast read of a Signature (or Content-Digest) value of `key=:base64:` members; undefined means "use the library". */
export function fastByteSequences(s: string): Map<string, Uint8Array> | undefined {
  const out = new Map<string, Uint8Array>()
  let i = 0
  if (s.length === 0) return undefined
  while (i < s.length) {
    const keyEnd = readKey(s, i)
    if (keyEnd < 0 || s.charCodeAt(keyEnd) !== 0x3d || s.charCodeAt(keyEnd + 1) !== 0x3a) return undefined
    const key = s.slice(i, keyEnd)
    const close = s.indexOf(':', keyEnd + 2)
    if (close < 0) return undefined
    const bytes = fromBase64(s.slice(keyEnd + 2, close))
    if (!bytes || out.has(key)) return undefined
    out.set(key, bytes)
    i = nextMember(s, close + 1)
    if (i < 0) return undefined
  }
  return out
}
