// Issue 11, "fairness and bounded state": key A floods a memory nonce store past its share (1M
// pairs by default) while key B signs a request every 1,000 of A's; every call is timed, and the
// event loop's delay is sampled between chunks of calls. Prints one JSON line. Wall-clock figures,
// so a bench and not a test: the test suite asserts the deterministic bound (slots touched per call).
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { createMemoryNonceStore } from '@sigil/server'
import { type MemoryNonceStoreStats, STATS } from '../../packages/server/src/internal/memory-nonce-store.js'

const share = Number(process.argv[2] ?? 1_000_000)
const calls = Number(process.argv[3] ?? Math.round(share * 1.3))
const chunk = 256

const gcPauses: number[] = []
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push(e.duration)
})
gcObserver.observe({ entryTypes: ['gc'] })
const eld = monitorEventLoopDelay({ resolution: 1 })

const store = createMemoryNonceStore({ maxEntriesPerKey: share })
const stats = (store as unknown as Record<typeof STATS, MemoryNonceStoreStats>)[STATS]
const loadBefore = loadavg()[0] as number
const times = new Float64Array(calls)
// CPU time of the process across each call (µs): unlike wall time, it leaves out the time the OS
// gave other processes, so it shows the call's own work on a shared machine (GC helper threads
// included).
let worstCpuMs = 0
const maintenance: number[] = []
let refused = 0
let victimSent = 0
let victimAccepted = 0
let victimReplaysRefused = 0
let victimWorst = 0

const t0 = performance.now()
eld.enable()
for (let done = 0; done < calls; ) {
  const raw = randomBytes(16 * chunk)
  const end = Math.min(calls, done + chunk)
  for (let i = done; i < end; i++) {
    const nonce = raw.toString('base64url', (i - done) * 16, (i - done) * 16 + 16)
    const before = stats.splits + stats.grows + stats.purges
    const c = process.cpuUsage()
    const a = performance.now()
    try {
      store.checkAndSet('kFloodA', nonce, 600_000)
    } catch {
      refused++
    }
    const dt = performance.now() - a
    const cpu = process.cpuUsage(c)
    times[i] = dt
    if ((cpu.user + cpu.system) / 1000 > worstCpuMs) worstCpuMs = (cpu.user + cpu.system) / 1000
    if (stats.splits + stats.grows + stats.purges !== before) {
      maintenance.push(dt)
    }
    if (i % 1000 === 0) {
      const v = `v${i}-${nonce}`
      const b = performance.now()
      victimSent++
      if (store.checkAndSet('kVictimB', v, 600_000)) victimAccepted++
      if (!store.checkAndSet('kVictimB', v, 600_000)) victimReplaysRefused++
      victimWorst = Math.max(victimWorst, performance.now() - b)
    }
  }
  done = end
  await new Promise((r) => setImmediate(r))
}
eld.disable()
const seconds = (performance.now() - t0) / 1000
await new Promise((r) => setTimeout(r, 20))
gcObserver.disconnect()

const sorted = Array.from(times).sort((x, y) => x - y)
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
const over = (ms: number) => {
  let n = 0
  for (const t of times) if (t > ms) n++
  return n
}
process.stdout.write(
  `${JSON.stringify({
    share,
    calls,
    seconds,
    loadBefore,
    loadAfter: loadavg()[0],
    worstCallMs: at(1),
    worstCallCpuMs: worstCpuMs,
    p999CallMs: at(0.999),
    meanCallNs: (sorted.reduce((s, t) => s + t, 0) / sorted.length) * 1e6,
    callsOver1Ms: over(1),
    callsOver2Ms: over(2),
    callsOver5Ms: over(5),
    // Calls that split, grew or purged a table: the store's own heaviest steps.
    maintenanceCalls: maintenance.length,
    maintenanceMedianMs: maintenance.sort((x, y) => x - y)[maintenance.length >> 1] ?? 0,
    maintenanceWorstMs: Math.max(0, ...maintenance),
    eventLoopDelayMaxMs: eld.max / 1e6,
    eventLoopDelayP99Ms: eld.percentile(99) / 1e6,
    gcCount: gcPauses.length,
    gcWorstMs: Math.max(0, ...gcPauses),
    refused,
    victimSent,
    victimAccepted,
    victimReplaysRefused,
    victimWorstMs: victimWorst,
    maxWorkSlots: stats.maxWork,
    maxProbe: stats.maxProbe,
    splits: stats.splits,
  })}\n`,
)
