// Encrypted bodies (SPEC §8, issue 31): encrypt+sign and verify+decrypt at 1 KiB / 64 KiB / 1 MiB,
// as a ratio to a node:crypto floor in the same process: one AES-128-GCM pass over the body with
// one tag, a SHA-256 of the ciphertext, one HMAC-SHA256 over a string as long as Sigil's signature
// base. Sigil does the same work in 16 KiB records (a tag and a nonce per record), derives the
// per-message CEK and nonce by HKDF from a fresh salt, and builds and parses the real headers.
// Rounds interleave the two so load on a shared machine hits both alike; ratio = median of the
// per-round ratios. `pnpm bench` runs it (skip with --no-ece); alone: tsx --conditions=source test/bench/ece.ts
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes as nodeRandom } from 'node:crypto'
import { component, contentDigest, parseSignatures, signMessage } from '@sigil/core'
import { decryptBytes, deriveEncryptionKey, encryptBytes, randomBytes, requestFromUrl, verifyMessageSignature } from '@sigil/core/internal'

export interface EceRow {
  size: number
  op: 'encrypt+sign' | 'verify+decrypt'
  usPerOp: number
  floorUsPerOp: number
  ratio: number
}

const keyId = 'kBenchEce01'
const secret = randomBytes(32)
const URL_ = 'https://api.example.com/v1/orders'
const COMPONENTS = ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest', 'content-encoding'].map((n) =>
  component(n),
)

function base(): Headers {
  return new Headers({ 'content-type': 'application/json', 'content-encoding': 'aes128gcm' })
}

async function sigilEncryptSign(body: Uint8Array, key: Uint8Array) {
  const sealed = await encryptBytes(body, { key, keyId })
  const headers = base()
  headers.set('content-digest', contentDigest(sealed))
  const signed = await signMessage(requestFromUrl('POST', URL_, headers), {
    keyId,
    secret,
    components: COMPONENTS,
    created: Math.floor(Date.now() / 1000),
  })
  headers.set('signature-input', signed.signatureInput)
  headers.set('signature', signed.signature)
  return { sealed, headers }
}

async function sigilVerifyDecrypt(m: { sealed: Uint8Array; headers: Headers }, key: Uint8Array) {
  const [entry] = parseSignatures(m.headers.get('signature-input'), m.headers.get('signature'))
  if (!entry) throw new Error('no signature')
  const { ok } = await verifyMessageSignature(requestFromUrl('POST', URL_, m.headers), entry, secret)
  if (!ok || contentDigest(m.sealed) !== m.headers.get('content-digest')) throw new Error('bench: verify failed')
  return decryptBytes(m.sealed, { key: (id) => (id === keyId ? key : undefined) })
}

const BASE_LEN = 420
const floorKey = nodeRandom(16)
const floorMac = nodeRandom(32)

function floorEncryptSign(body: Uint8Array) {
  const iv = nodeRandom(12)
  const c = createCipheriv('aes-128-gcm', floorKey, iv)
  const sealed = Buffer.concat([iv, c.update(body), c.final(), c.getAuthTag()])
  const digest = createHash('sha256').update(sealed).digest('base64')
  const mac = createHmac('sha256', floorMac).update(digest.padEnd(BASE_LEN, '.')).digest('base64')
  return { sealed, digest, mac }
}

function floorVerifyDecrypt(m: { sealed: Buffer; digest: string; mac: string }) {
  const digest = createHash('sha256').update(m.sealed).digest('base64')
  const mac = createHmac('sha256', floorMac).update(digest.padEnd(BASE_LEN, '.')).digest('base64')
  if (mac !== m.mac || digest !== m.digest) throw new Error('floor: verify failed')
  const d = createDecipheriv('aes-128-gcm', floorKey, m.sealed.subarray(0, 12))
  d.setAuthTag(m.sealed.subarray(m.sealed.length - 16))
  return Buffer.concat([d.update(m.sealed.subarray(12, m.sealed.length - 16)), d.final()])
}

/** Mean µs per call of `fn` over about `ms` milliseconds. */
async function time(fn: () => unknown, ms: number): Promise<number> {
  let n = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    await fn()
    n++
    now = performance.now()
  }
  return ((now - start) * 1000) / n
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

export async function runEce(o: { sizes?: number[]; rounds?: number; timeMs?: number } = {}): Promise<EceRow[]> {
  const sizes = o.sizes ?? [1024, 65536, 1048576]
  const rounds = o.rounds ?? 5
  const ms = o.timeMs ?? 150
  const key = await deriveEncryptionKey(secret, keyId)
  const rows: EceRow[] = []
  for (const size of sizes) {
    const body = new Uint8Array(nodeRandom(size))
    const sig = await sigilEncryptSign(body, key)
    const flo = floorEncryptSign(body)
    for (const op of ['encrypt+sign', 'verify+decrypt'] as const) {
      const s = op === 'encrypt+sign' ? () => sigilEncryptSign(body, key) : () => sigilVerifyDecrypt(sig, key)
      const f = op === 'encrypt+sign' ? () => floorEncryptSign(body) : () => floorVerifyDecrypt(flo)
      await time(s, ms / 3)
      await time(f, ms / 3)
      const ratios: number[] = []
      const us: number[] = []
      const fus: number[] = []
      for (let r = 0; r < rounds; r++) {
        const a = await time(s, ms)
        const b = await time(f, ms)
        us.push(a)
        fus.push(b)
        ratios.push(a / b)
      }
      rows.push({ size, op, usPerOp: median(us), floorUsPerOp: median(fus), ratio: median(ratios) })
    }
  }
  return rows
}

export function eceMarkdown(rows: EceRow[]): string[] {
  const out = [
    '### Encrypted bodies (SPEC §8) — ratio to a node:crypto AES-128-GCM + SHA-256 + HMAC floor in the same process',
    '',
    '| body | op | Sigil µs | floor µs | ratio |',
    '| ---: | --- | ---: | ---: | ---: |',
  ]
  for (const r of rows)
    out.push(`| ${r.size} | ${r.op} | ${r.usPerOp.toFixed(1)} | ${r.floorUsPerOp.toFixed(1)} | ${r.ratio.toFixed(2)}× |`)
  out.push('')
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runEce()
  console.log(eceMarkdown(rows).join('\n'))
}
