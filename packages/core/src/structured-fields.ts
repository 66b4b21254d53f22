import { type Dictionary, parseDictionary } from 'structured-headers'
import { VerificationError } from './errors.js'

/**
 * Top-level member keys of a Dictionary in order, including duplicates. RFC 8941 lets a later
 * duplicate silently replace an earlier one; for Signature and Signature-Input that would let an
 * attacker shadow a label, so we look before the library collapses them.
 */
export function dictionaryKeys(input: string): string[] {
  const keys: string[] = []
  let i = 0
  const n = input.length
  let expectKey = true
  let depth = 0
  while (i < n) {
    const c = input.charCodeAt(i)
    if (c === 0x22 /* " */) {
      i++
      while (i < n && input.charCodeAt(i) !== 0x22) i += input.charCodeAt(i) === 0x5c ? 2 : 1
      i++
      continue
    }
    if (c === 0x3a /* : */) {
      const end = input.indexOf(':', i + 1)
      i = end < 0 ? n : end + 1
      continue
    }
    if (c === 0x28 /* ( */) depth++
    else if (c === 0x29 /* ) */) depth--
    else if (c === 0x2c /* , */ && depth === 0) {
      expectKey = true
      i++
      continue
    }
    if (expectKey && c !== 0x20 && c !== 0x09) {
      let j = i
      while (j < n && /[a-z0-9_.*-]/.test(input[j] as string)) j++
      keys.push(input.slice(i, j))
      expectKey = false
      i = j
      continue
    }
    i++
  }
  return keys
}

/**
 * Parse a Dictionary field under a byte limit, rejecting duplicate keys. Errors are
 * `SIGNATURE_MALFORMED` and never echo the input.
 */
export function parseDictionaryLimited(value: string, maxBytes: number, field: string, rejectDuplicates = false): Dictionary {
  if (value.length > maxBytes) throw new VerificationError('SIGNATURE_MALFORMED', `${field} exceeds ${maxBytes} bytes`)
  let dict: Dictionary
  try {
    dict = parseDictionary(value)
  } catch {
    throw new VerificationError('SIGNATURE_MALFORMED', `${field} is not a valid structured dictionary`)
  }
  if (rejectDuplicates && dictionaryKeys(value).length !== dict.size) {
    throw new VerificationError('SIGNATURE_MALFORMED', `${field} repeats a label`)
  }
  return dict
}
