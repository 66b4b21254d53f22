import { ComponentError } from './errors.js'

// application/x-www-form-urlencoded percent-encode set: everything but ASCII alphanumerics and
// *-._ is escaped; space becomes %20 (RFC 9421 §2.2.8 output, not '+').
function formEncode(s: string): string {
  let out = ''
  for (const b of new TextEncoder().encode(s)) {
    if (
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2a ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f
    ) {
      out += String.fromCharCode(b)
    } else {
      out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
    }
  }
  return out
}

/**
 * The `@query-param` value for `name` (RFC 9421 §2.2.8): parse with the WHATWG
 * x-www-form-urlencoded parser, re-encode name and value. A missing or repeated name is an error.
 */
export function queryParam(rawQuery: string, name: string): string {
  const params = new URLSearchParams(rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery)
  let found: string | undefined
  let count = 0
  for (const [k, v] of params) {
    if (formEncode(k) === name) {
      count++
      found = v
    }
  }
  if (count === 0) throw new ComponentError('covered query parameter is not in the query')
  if (count > 1) throw new ComponentError('covered query parameter occurs more than once')
  return formEncode(found as string)
}
