import { ECE_KEY_BYTES } from './ece-key.js'
import { type RecordCipher, recordCipher, TAG_BYTES } from './ece-record.js'
import { randomBytes, utf8 } from './encoding.js'
import { ConfigurationError, VerificationError } from './errors.js'

/** Record size Sigil sends (RFC 8188 `rs`): 16 KiB records stream well and cost one tag each. */
export const ECE_RECORD_SIZE = 16384

/** The largest `rs` Sigil accepts from a peer: a record is held whole until its tag checks out. */
export const ECE_MAX_RECORD_SIZE = 65536

/** The smallest `rs` (RFC 8188 §2.1): a tag, a delimiter and one byte. */
const MIN_RECORD_SIZE = TAG_BYTES + 2
const HEADER_BYTES = ECE_KEY_BYTES + 5
const LAST = 2
const MORE = 1

/** What encrypts one body. */
export interface EceEncryptOptions {
  /** The 16-byte key (RFC 8188 IKM): {@link deriveEncryptionKey} of the API key. */
  key: Uint8Array
  /** Written to the header's `keyid` field: the API key's id. */
  keyId: string
  /** Record size, default {@link ECE_RECORD_SIZE}. */
  recordSize?: number
  /** The salt; fresh random bytes unless a test pins it (a known-answer vector). */
  salt?: Uint8Array
}

/** What decrypts one body. */
export interface EceDecryptOptions {
  /**
   * The key, or a lookup by the header's `keyid`; undefined (an id that is not the expected one)
   * refuses the body.
   */
  key: Uint8Array | ((keyId: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>)
  /** Largest `rs` accepted, default {@link ECE_MAX_RECORD_SIZE}. */
  maxRecordSize?: number
}

/** Encrypts a body incrementally: memory is one record, whatever the body's size. */
export interface EceEncrypter {
  /** Plaintext in; out come the header and every record that is complete. */
  push(chunk: Uint8Array): Promise<Uint8Array[]>
  /** End of plaintext: the last record (delimiter 2). */
  end(): Promise<Uint8Array[]>
}

/** Decrypts a body incrementally; plaintext leaves only once its record's tag checked out. */
export interface EceDecrypter {
  push(chunk: Uint8Array): Promise<Uint8Array[]>
  /** End of ciphertext: the last record, or a refusal if the body was cut short. */
  end(): Promise<Uint8Array[]>
  /** The header's `keyid`, once the header has arrived. */
  readonly keyId: string | undefined
}

function refuse(reason: string): never {
  throw new VerificationError('BODY_DECRYPTION_FAILED', `aes128gcm body refused: ${reason}`)
}

function checkKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== ECE_KEY_BYTES) {
    throw new ConfigurationError(`an aes128gcm key is ${ECE_KEY_BYTES} bytes (deriveEncryptionKey)`)
  }
}

/** Start encrypting one body (RFC 8188 `aes128gcm`). */
export function createEceEncrypter(options: EceEncryptOptions): EceEncrypter {
  checkKey(options.key)
  const rs = options.recordSize ?? ECE_RECORD_SIZE
  if (!Number.isInteger(rs) || rs < MIN_RECORD_SIZE || rs > ECE_MAX_RECORD_SIZE) {
    throw new ConfigurationError(`recordSize must be an integer from ${MIN_RECORD_SIZE} to ${ECE_MAX_RECORD_SIZE}`)
  }
  const keyId = utf8(options.keyId)
  if (keyId.length > 255) throw new ConfigurationError('an aes128gcm keyid is at most 255 bytes')
  const salt = options.salt ?? randomBytes(ECE_KEY_BYTES)
  if (salt.length !== ECE_KEY_BYTES) throw new ConfigurationError(`an aes128gcm salt is ${ECE_KEY_BYTES} bytes`)
  const header = new Uint8Array(HEADER_BYTES + keyId.length)
  header.set(salt, 0)
  new DataView(header.buffer).setUint32(ECE_KEY_BYTES, rs)
  header[HEADER_BYTES - 1] = keyId.length
  header.set(keyId, HEADER_BYTES)

  const room = rs - TAG_BYTES - 1 // plaintext bytes per record
  const record = new Uint8Array(rs - TAG_BYTES) // plaintext then the delimiter
  let fill = 0
  let seq = 0
  let cipher: Promise<RecordCipher> | undefined
  let started = false
  let ended = false
  const begin = (out: Uint8Array[]) => {
    if (!started) {
      started = true
      out.push(header)
    }
    cipher ??= recordCipher(options.key, salt)
    return cipher
  }
  const seal = async (c: RecordCipher, delimiter: number) => {
    record[fill] = delimiter
    const sealed = await c.seal(seq++, record.subarray(0, fill + 1))
    fill = 0
    return sealed
  }
  return {
    async push(chunk) {
      if (ended) throw new ConfigurationError('push() after end()')
      const out: Uint8Array[] = []
      const c = await begin(out)
      let o = 0
      while (o < chunk.length) {
        // A full record waits for one more byte: only then is it known not to be the last.
        if (fill === room) out.push(await seal(c, MORE))
        const n = Math.min(room - fill, chunk.length - o)
        record.set(chunk.subarray(o, o + n), fill)
        fill += n
        o += n
      }
      return out
    },
    async end() {
      if (ended) return []
      ended = true
      const out: Uint8Array[] = []
      const c = await begin(out)
      out.push(await seal(c, LAST))
      return out
    },
  }
}

/** The plaintext of a padded record: strip the zero padding, check the delimiter. */
function unpad(padded: Uint8Array, last: boolean, seq: number): Uint8Array {
  let i = padded.length - 1
  while (i >= 0 && padded[i] === 0) i--
  if (i < 0) refuse(`record ${seq} has no delimiter`)
  const delimiter = padded[i]
  if (delimiter === LAST && !last) refuse(`record ${seq} is marked last but more records follow`)
  if (delimiter === MORE && last) refuse('the body is truncated (its last record is not marked last)')
  if (delimiter !== LAST && delimiter !== MORE) refuse(`record ${seq} has a bad delimiter`)
  return padded.subarray(0, i)
}

/** Start decrypting one body (RFC 8188 `aes128gcm`). */
export function createEceDecrypter(options: EceDecryptOptions): EceDecrypter {
  const maxRs = options.maxRecordSize ?? ECE_MAX_RECORD_SIZE
  let header: Uint8Array | undefined = new Uint8Array(HEADER_BYTES + 255)
  let headerFill = 0
  let keyId: string | undefined
  let cipher: RecordCipher | undefined
  let record = new Uint8Array(0)
  let fill = 0
  let seq = 0
  let ended = false

  const open = async (last: boolean): Promise<Uint8Array> => {
    const c = cipher as RecordCipher
    if (fill < TAG_BYTES + 1) refuse(`record ${seq} is shorter than a tag`)
    const padded = await c.open(seq, record.subarray(0, fill))
    if (!padded) refuse(`record ${seq} failed authentication (tampered, reordered or another key)`)
    const plain = unpad(padded, last, seq)
    seq++
    fill = 0
    // Node hands back a fresh Buffer; WebCrypto a fresh ArrayBuffer: neither aliases `record`.
    return plain
  }

  const readHeader = async (chunk: Uint8Array, o: number): Promise<number> => {
    const h = header as Uint8Array
    const want = headerFill < HEADER_BYTES ? HEADER_BYTES : HEADER_BYTES + (h[HEADER_BYTES - 1] as number)
    const n = Math.min(want - headerFill, chunk.length - o)
    h.set(chunk.subarray(o, o + n), headerFill)
    headerFill += n
    if (headerFill === HEADER_BYTES && h[HEADER_BYTES - 1] !== 0) return o + n // keyid still to come
    if (headerFill < want) return o + n
    const rs = new DataView(h.buffer, h.byteOffset).getUint32(ECE_KEY_BYTES)
    if (rs < MIN_RECORD_SIZE || rs > maxRs) refuse(`record size ${rs} is outside ${MIN_RECORD_SIZE}..${maxRs}`)
    let id: string
    try {
      id = new TextDecoder('utf-8', { fatal: true }).decode(h.subarray(HEADER_BYTES, headerFill))
    } catch {
      refuse('the keyid is not UTF-8')
    }
    keyId = id
    const key = typeof options.key === 'function' ? await options.key(id) : options.key
    if (key === undefined) refuse('the keyid is not the expected key')
    checkKey(key)
    cipher = await recordCipher(key, h.slice(0, ECE_KEY_BYTES))
    record = new Uint8Array(rs)
    header = undefined
    return o + n
  }

  return {
    get keyId() {
      return keyId
    },
    async push(chunk) {
      if (ended) throw new ConfigurationError('push() after end()')
      const out: Uint8Array[] = []
      let o = 0
      while (o < chunk.length) {
        if (header) {
          o = await readHeader(chunk, o)
          continue
        }
        // A full record is opened once a byte follows it: then it must not be the last.
        if (fill === record.length) out.push(await open(false))
        const n = Math.min(record.length - fill, chunk.length - o)
        record.set(chunk.subarray(o, o + n), fill)
        fill += n
        o += n
      }
      return out
    },
    async end() {
      if (ended) return []
      ended = true
      if (header) refuse('the body ends inside its header')
      if (fill === 0) refuse('the body is truncated (no last record)')
      return [await open(true)]
    },
  }
}
