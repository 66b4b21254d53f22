/**
 * Key ids of up to this many characters, all Latin-1, are kept inline in the table's slots and
 * compared there (Sigil's own ids are 22 base62 characters). Longer or wider ids are compared as
 * strings, one extra memory access on a hit.
 */
export const INLINE_CHARS = 24
/** `Int32` words of an inline key id in a slot. */
export const KEY_WORDS = INLINE_CHARS / 4

/** A length code of 0 marks an empty slot; inline ids have `1 + length`; other ids this one. */
export const WIDE = 0x7f

/**
 * Hash a key id once per lookup and pack it for comparison: `out[0]` gets its length code
 * (`1 + length` when the id fits inline, else {@link WIDE}), `out[1..6]` its first 24 characters
 * four to a word (zero-padded). Returns a 32-bit hash (Murmur3's word mix and finalizer, keyed by
 * `seed`, so chosen key ids cannot be made to collide without knowing it) computed over every
 * character.
 *
 * One pass of `charCodeAt` over a string as it comes out of a header (a fresh, often sliced,
 * string whose V8 hash has never been computed); the table then compares 6 words instead of
 * touching the stored string.
 */
export function hashKeyId(keyId: string, seed: number, out: Int32Array): number {
  const n = keyId.length
  let h = seed ^ n
  let wide = 0
  let i = 0
  let j = 1
  // Whole words four characters at a time, then the tail.
  for (; i + 4 <= n; i += 4) {
    const a = keyId.charCodeAt(i)
    const b = keyId.charCodeAt(i + 1)
    const c = keyId.charCodeAt(i + 2)
    const d = keyId.charCodeAt(i + 3)
    wide |= a | b | c | d
    const w = a ^ (b << 8) ^ (c << 16) ^ (d << 24)
    if (j <= KEY_WORDS) out[j++] = w
    h = mix(h, w)
  }
  if (i < n) {
    let w = 0
    for (let s = 0; i < n; i++, s += 8) {
      const c = keyId.charCodeAt(i)
      wide |= c
      w ^= c << s
    }
    if (j <= KEY_WORDS) out[j++] = w
    h = mix(h, w)
  }
  while (j <= KEY_WORDS) out[j++] = 0
  out[0] = n <= INLINE_CHARS && wide < 0x100 ? n + 1 : WIDE
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

function mix(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  h ^= Math.imul(k, 0x1b873593)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}
