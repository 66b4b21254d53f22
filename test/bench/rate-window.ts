// `tsx --conditions=source test/bench/rate-window.ts`: createMemoryRateLimiter's window against
// rate-limiter-flexible's RateLimiterMemory (which it replaced), per consume, over 1 000 keys.
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { createMemoryWindow } from '../../packages/server/src/internal/memory-window.js'

const KEYS = Array.from({ length: 1000 }, (_, i) => `k:${i}`)
const N = 1_000_000
type Consume = (key: string) => Promise<unknown>

async function run(name: string, consume: Consume): Promise<void> {
  for (let i = 0; i < 20_000; i++) await consume(KEYS[i % KEYS.length] as string).catch(() => {})
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) await consume(KEYS[i % KEYS.length] as string).catch(() => {})
  const ns = Number(process.hrtime.bigint() - t0) / N
  console.log(`${name}: ${(ns / 1000).toFixed(3)} µs per consume`)
}

for (let round = 0; round < 2; round++) {
  const flexible = new RateLimiterMemory({ points: 1e9, duration: 60, keyPrefix: 'rate' })
  await run('rate-limiter-flexible RateLimiterMemory', (k) => flexible.consume(k))
  const window = createMemoryWindow(1e9, 60)
  await run('memory window', (k) => window.consume(k))
}
