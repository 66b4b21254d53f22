// Nonce store scale, in a child run with --expose-gc: bytes per entry at N entries (heapUsed
// delta after full GCs), and verify cost as the store fills. Prints one JSON line.
import { randomBytes } from 'node:crypto'
import { createMemoryNonceStore } from '@sigil/server'
import { jsonBody } from './fixtures.js'
import { sigil, toWire, type Wire } from './impls.js'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const n = Number(process.argv[2] ?? 1_000_000)
const fillLevels = (process.argv[3] ?? '0,250000,1000000').split(',').map(Number)

// heapUsed + arrayBuffers: the typed-array store keeps its table outside the V8 heap.
function heap(): number {
  for (let i = 0; i < 3; i++) gc?.()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

// The store as it was before this change (string keys `${keyId}\0${nonce}`, boxed ms expiries),
// kept here so the table can show the difference.
function previousStore() {
  const entries = new Map<string, number>()
  return {
    checkAndSet(keyId: string, nonce: string, ttlMs: number) {
      const t = Date.now()
      const k = `${keyId}\u0000${nonce}`
      const exp = entries.get(k)
      if (exp !== undefined && exp > t) return false
      for (const [key, e] of entries) {
        if (e > t) break
        entries.delete(key)
      }
      entries.set(k, t + ttlMs)
      return true
    },
  }
}

/**
 * Bytes per entry once `n` pairs are held, and the cost of one checkAndSet (ns) for the last
 * 100k new pairs and for 100k replays at `n` entries (nonces made before timing).
 */
function scale(store: { checkAndSet(k: string, n: string, ttl: number): unknown }) {
  const timed = 100_000
  const last: string[] = []
  const lastRaw = randomBytes(16 * timed)
  for (let i = 0; i < timed; i++) last.push(lastRaw.toString('base64url', i * 16, i * 16 + 16))
  const before = heap()
  const batch = 10_000
  for (let done = 0; done < n - timed; done += batch) {
    // Realistic nonces: 16 random bytes, base64url (22 chars), produced and dropped per request.
    const raw = randomBytes(16 * batch)
    for (let i = 0; i < batch; i++) store.checkAndSet('k_partner_1', raw.toString('base64url', i * 16, i * 16 + 16), 600_000)
  }
  let t0 = performance.now()
  for (let i = 0; i < timed; i++) store.checkAndSet('k_partner_1', last[i] as string, 600_000)
  const insertNs = ((performance.now() - t0) * 1e6) / timed
  t0 = performance.now()
  for (let i = 0; i < timed; i++) store.checkAndSet('k_partner_1', last[i] as string, 600_000)
  const replayNs = ((performance.now() - t0) * 1e6) / timed
  const bytes = (heap() - before) / n
  store.checkAndSet('k_partner_1', 'keep-alive', 1)
  return { bytes, insertNs, replayNs }
}

// n pairs and one more ('keep-alive'): a key's share is exact.
const current = createMemoryNonceStore({ maxEntries: n + 1, maxEntriesPerKey: n + 1 })
const cur = scale(current)
const currentBytes = cur.bytes
current.clear()
const previous = previousStore()
const prev = scale(previous)
const previousBytes = prev.bytes

// Verify cost (full Sigil verify, 1 KiB body) as the store fills.
const fill: { entries: number; usPerVerify: number }[] = []
{
  const body = Buffer.from(jsonBody(1024))
  const impl = sigil(body, Math.max(...fillLevels) + 10_000)
  const store = impl.store
  // Warm up the JIT on an empty store first, then empty it again.
  for (let i = 0; i < 5000; i++) await impl.verify(toWire(await impl.sign(), body))
  store.clear()
  let filled = 0
  for (const level of fillLevels) {
    while (filled < level) {
      const raw = randomBytes(16 * 10_000)
      for (let i = 0; i < 10_000 && filled < level; i++, filled++)
        store.checkAndSet('k_other', raw.toString('base64url', i * 16, i * 16 + 16), 600_000)
    }
    const reps = 3000
    const signed: Wire[] = []
    for (let i = 0; i < reps; i++) signed.push(toWire(await impl.sign(), body))
    for (let i = 0; i < 500; i++) await impl.verify(signed[i] as Wire)
    const t0 = performance.now()
    for (let i = 500; i < reps; i++) await impl.verify(signed[i] as Wire)
    fill.push({ entries: level, usPerVerify: ((performance.now() - t0) * 1000) / (reps - 500) })
    filled += reps
  }
}
process.stdout.write(
  `${JSON.stringify({ entries: n, bytesPerEntry: currentBytes, previousBytesPerEntry: previousBytes, insertNs: cur.insertNs, replayNs: cur.replayNs, previousInsertNs: prev.insertNs, previousReplayNs: prev.replayNs, fill })}\n`,
)
