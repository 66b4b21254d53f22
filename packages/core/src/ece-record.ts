import { ECE_KEY_BYTES, hkdfSha256 } from './ece-key.js'
import { utf8 } from './encoding.js'
import { nodeCrypto } from './platform.js'

/** Bytes of an AES-GCM tag, and of the RFC 8188 nonce. */
export const TAG_BYTES = 16
const NONCE_BYTES = 12

const CEK_INFO = utf8('Content-Encoding: aes128gcm\0')
const NONCE_INFO = utf8('Content-Encoding: nonce\0')
const ONE = new Uint8Array([1])

/** Seals and opens the records of one message (RFC 8188 §2.2-2.3): one CEK and nonce per salt. */
export interface RecordCipher {
  /** AES-GCM of record `seq`'s padded plaintext: ciphertext followed by the tag. */
  seal(seq: number, padded: Uint8Array): Uint8Array | Promise<Uint8Array>
  /** The padded plaintext of record `seq`, or undefined when its tag does not check out. */
  open(seq: number, record: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>
}

/** The record's nonce: the base nonce XOR the sequence number (96-bit big-endian, RFC 8188 §2.3). */
function nonceOf(base: Uint8Array, seq: number): Uint8Array {
  // A copy (Buffer's slice() is a view: XOR-ing it would change the base nonce).
  const iv = new Uint8Array(base)
  let s = seq
  for (let k = NONCE_BYTES - 1; k >= NONCE_BYTES - 6 && s > 0; k--) {
    iv[k] = (iv[k] as number) ^ (s & 0xff)
    s = Math.floor(s / 256)
  }
  return iv
}

/** Derive the message's CEK and nonce from the key (IKM) and salt, and build its record cipher. */
export async function recordCipher(key: Uint8Array, salt: Uint8Array): Promise<RecordCipher> {
  const nc = nodeCrypto
  if (nc) {
    // node:crypto is synchronous and several times faster than WebCrypto's promise per record.
    // HKDF by hand (RFC 5869): one Extract and two one-block Expands, three HMACs, where two
    // hkdfSync calls would extract twice; the CEK stays a plain buffer (a KeyObject costs more to
    // make than a small body costs to encrypt).
    const prk = nc.createHmac('sha256', salt).update(key).digest()
    const expand = (info: Uint8Array, n: number) => nc.createHmac('sha256', prk).update(info).update(ONE).digest().subarray(0, n)
    const k = expand(CEK_INFO, ECE_KEY_BYTES)
    const base = expand(NONCE_INFO, NONCE_BYTES)
    return {
      seal(seq, padded) {
        const c = nc.createCipheriv('aes-128-gcm', k, nonceOf(base, seq))
        const body = c.update(padded)
        const fin = c.final()
        const out = new Uint8Array(body.length + fin.length + TAG_BYTES)
        out.set(body, 0)
        out.set(fin, body.length)
        out.set(c.getAuthTag(), body.length + fin.length)
        return out
      },
      open(seq, record) {
        const d = nc.createDecipheriv('aes-128-gcm', k, nonceOf(base, seq))
        d.setAuthTag(record.subarray(record.length - TAG_BYTES))
        const body = d.update(record.subarray(0, record.length - TAG_BYTES))
        try {
          // final() checks the tag; nothing decrypted is returned before it passes.
          d.final()
        } catch {
          return undefined
        }
        return body
      },
    }
  }
  const cek = await hkdfSha256(key, salt, CEK_INFO, ECE_KEY_BYTES)
  const base = await hkdfSha256(key, salt, NONCE_INFO, NONCE_BYTES)
  const k = await crypto.subtle.importKey('raw', cek as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt', 'decrypt'])
  return {
    async seal(seq, padded) {
      const iv = nonceOf(base, seq) as Uint8Array<ArrayBuffer>
      return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, k, padded as Uint8Array<ArrayBuffer>))
    },
    async open(seq, record) {
      const iv = nonceOf(base, seq) as Uint8Array<ArrayBuffer>
      try {
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, k, record as Uint8Array<ArrayBuffer>))
      } catch {
        return undefined
      }
    },
  }
}
