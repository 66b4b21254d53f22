// `pnpm bench`: micro (sign / verify / both / the sign-then-verify loop vs the node:crypto floor
// and the minimal floor of issue 32, each entry in its own process), server overhead (autocannon on 127.0.0.1), nonce-store scale, and Redis verify when
// Redis answers. Writes test/bench/results/results.json, results.md and chart.svg. Flags: --quick,
// --no-server, --no-nonce, --redis / --no-redis, --sizes=0,1024, --rounds=N, --passes=N,
// --time=ms, --out=name (write results/name.json and .md instead), --only=substring, --entries=name,name (exact entry names; floors only when named), --no-micro,
// --server-rounds=N, --server-kinds=node-sigil,node-floor (a subset), --server-profile=DIR (CPU profile per measured run), --no-keys (skip the keys section, test/bench/keys.ts), --big (1 GiB streamed through createSignedFetch to a verifying node:http server; --big-bytes=N), --no-ece (skip encrypted bodies, test/bench/ece.ts).
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type BigResult, runBig } from './big.js'
import { type EceRow, eceMarkdown, runEce } from './ece.js'
import { jsonBody, machineLine } from './fixtures.js'
import { sigilBaseLength } from './impls.js'
import { type MicroRow, median, runMicro } from './micro.js'
import { runServers, type ServerRow } from './server.js'

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const quick = flag('quick')
const sizes = (value('sizes') ?? (quick ? '0,1024' : '0,1024,65536,1048576')).split(',').map(Number)
const rounds = Number(value('rounds') ?? (quick ? 3 : 5))
const passes = Number(value('passes') ?? (quick ? 1 : 3))
const timeMs = Number(value('time') ?? (quick ? 40 : 60))
const only = value('only')
const entries = value('entries')?.split(',')
const here = fileURLToPath(new URL('.', import.meta.url))
const log = (s: string) => console.log(s)

const machine = await machineLine()
log(machine)
const startedAt = new Date().toISOString()

log('micro: sign / verify / both / sign→verify loop vs the floor and the minimal floor (one process per entry and pass)')
const micro: MicroRow[] = flag('no-micro')
  ? []
  : await runMicro({
      sizes,
      rounds,
      passes,
      timeMs,
      log,
      only: only ? (n) => n.includes(only) : undefined,
      ...(entries ? { entries } : {}),
    })

let servers: ServerRow[] | undefined
if (!flag('no-server')) {
  log('server overhead (autocannon, 1 KiB body)')
  const baseLength = await sigilBaseLength(Buffer.from(jsonBody(1024)))
  servers = await runServers({
    seconds: quick ? 2 : 4,
    rounds: Number(value('server-rounds') ?? 1),
    ...(value('server-kinds') ? { kinds: (value('server-kinds') as string).split(',') as ServerRow['kind'][] } : {}),
    ...(value('server-profile') ? { profileDir: value('server-profile') as string } : {}),
    connections: 10,
    bodySize: 1024,
    baseLength,
    log,
  })
}

interface NonceResult {
  entries: number
  bytesPerEntry: number
  previousBytesPerEntry: number
  insertNs?: number
  replayNs?: number
  previousInsertNs?: number
  previousReplayNs?: number
  fill: { entries: number; usPerVerify: number }[]
  flood?: NonceFlood
}
/** test/bench/nonce-flood-child.ts's line. */
interface NonceFlood {
  share: number
  calls: number
  loadBefore: number
  loadAfter: number
  worstCallMs: number
  worstCallOnCpuMs: number
  onCpuOver1Ms: number
  onCpuOver2Ms: number
  p999CallMs: number
  meanCallNs: number
  callsOver1Ms: number
  callsOver2Ms: number
  callsOver5Ms: number
  maintenanceCalls: number
  maintenanceMedianMs: number
  maintenanceWorstMs: number
  eventLoopDelayMaxMs: number
  gcWorstMs: number
  refused: number
  victimSent: number
  victimAccepted: number
  maxWorkSlots: number
}
let nonce: NonceResult | undefined
if (!flag('no-nonce')) {
  log('nonce store: bytes per entry at 1M, verify cost as it fills')
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx/esm', '--conditions=source', `${here}nonce-child.ts`, '1000000', '0,250000,1000000'],
    { encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(`nonce child failed: ${r.stderr}`)
  nonce = JSON.parse(r.stdout.trim().split('\n').pop() as string) as NonceResult
  log('nonce store: one key floods past a 1M share while another signs (worst call, event-loop delay)')
  const f = spawnSync(process.execPath, ['--import', 'tsx/esm', '--conditions=source', `${here}nonce-flood-child.ts`, '1000000'], {
    encoding: 'utf8',
  })
  if (f.status !== 0) throw new Error(`nonce flood child failed: ${f.stderr}`)
  nonce.flood = JSON.parse(f.stdout.trim().split('\n').pop() as string) as NonceFlood
}

if (!flag('no-keys')) {
  // Key lookups as the key count grows: its own script and results (results/keys.md); --1m via `pnpm bench:keys --1m`.
  log('keys: lookups at 100 / 10k / 100k keys')
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx/esm', '--conditions=source', `${here}keys.ts`, ...(quick ? ['--sizes=100,10000'] : [])],
    {
      stdio: 'inherit',
    },
  )
  if (r.status !== 0) log('  keys benchmark failed')
}

const redisUp = () =>
  new Promise<boolean>((resolve) => {
    const s = connect(6379, '127.0.0.1')
    s.setTimeout(300)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
    s.once('timeout', () => {
      s.destroy()
      resolve(false)
    })
  })
let redis: { name: string; opsPerSec: number; p50Us: number; p99Us: number }[] | undefined
if (flag('redis') || (!flag('no-redis') && (await redisUp()))) {
  log('verify with memory vs Redis stores')
  try {
    const { benchRedisVerify } = await import('./redis-verify.js')
    redis = await benchRedisVerify({ durationMs: quick ? 1000 : 3000 })
  } catch (e) {
    log(`  redis benchmark skipped: ${(e as Error).message}`)
  }
}

let ece: EceRow[] | undefined
if (!flag('no-ece')) {
  log('encrypted bodies: encrypt+sign / verify+decrypt vs a node:crypto AES-128-GCM + HMAC floor')
  ece = await runEce({ rounds: quick ? 3 : 5, timeMs: quick ? 60 : 150 })
}

let big: BigResult | undefined
if (flag('big')) {
  log('1 GiB streaming: createSignedFetch -> node:http verifyNodeRequest (retainBody: false)')
  big = await runBig({ bytes: Number(value('big-bytes') ?? 1024 ** 3), log })
}

const finishedMachine = await machineLine()
const results = {
  machine,
  finishedMachine,
  startedAt,
  node: process.version,
  rounds,
  passes,
  timeMs,
  micro,
  servers,
  nonce,
  redis,
  big,
  ece,
}
const outDir = `${here}results`
mkdirSync(outDir, { recursive: true })
// --out=name: a partial run's files (results/name.json, .md) beside the full run's, no chart.
const outName = value('out') ?? 'results'
writeFileSync(`${outDir}/${outName}.json`, `${JSON.stringify(results, null, 2)}\n`)
const md = markdown(results)
writeFileSync(`${outDir}/${outName}.md`, md)
if (!value('out')) writeFileSync(`${outDir}/chart.svg`, chart(micro.filter((r) => r.size === 1024 && r.op === 'both')))
log(`\n${md}`)

function markdown(r: typeof results): string {
  const out: string[] = [
    `Machine: ${r.machine}`,
    `At the end: ${r.finishedMachine}`,
    '',
    `Run ${r.startedAt}; each entry in its own process beside both floors, ${r.passes} passes × ${r.rounds} rounds; ratio = median over passes of the median per-round (entry ÷ floor, same operation). Each cell: ratio to the floor · ratio to the minimal floor (entry µs/op).`,
    '',
  ]
  const names = [...new Set(r.micro.map((m) => m.name))]
  const sizesSeen = [...new Set(r.micro.map((m) => m.sizeLabel))]
  const us = (x: number) => (x < 100 ? x.toFixed(1) : x.toFixed(0))
  const cell = (name: string, size: string, op: string) => {
    const m = r.micro.find((x) => x.name === name && x.sizeLabel === size && x.op === op)
    return m ? `${m.ratio.toFixed(2)}× · ${m.minRatio.toFixed(2)}× (${us(m.usPerOp)} µs)` : '—'
  }
  const title = {
    verify: 'verify',
    sign: 'sign',
    both: 'sign + verify (sum of the two)',
    loop: 'sign → verify loop, one operation (fresh signature, node-shaped request built per signed request)',
  } as const
  for (const op of ['verify', 'sign', 'both', 'loop'] as const) {
    out.push(`### ${title[op]} — ratio to the floor · to the minimal floor, same operation, same process (µs/op)`, '')
    out.push(`| entry | ${sizesSeen.join(' | ')} |`, `| --- | ${sizesSeen.map(() => '---:').join(' | ')} |`)
    for (const n of names) out.push(`| ${n} | ${sizesSeen.map((s) => cell(n, s, op)).join(' | ')} |`)
    // The floors' own µs, as measured beside the entries (median over every child).
    const floors = (size: string, pick: (m: MicroRow) => number) =>
      us(median(r.micro.filter((x) => x.sizeLabel === size && x.op === op).map(pick)))
    out.push(`| *floor µs, beside the entries* | ${sizesSeen.map((s) => floors(s, (m) => m.floorUs)).join(' | ')} |`)
    out.push(`| *minimal floor µs, beside the entries* | ${sizesSeen.map((s) => floors(s, (m) => m.minFloorUs)).join(' | ')} |`)
    out.push('')
  }
  const loads = r.micro.flatMap((m) => m.passLoads.flat())
  if (loads.length)
    out.push(`Load average (1 min) in the micro children: ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}.`, '')
  out.push('What each entry covers:', '')
  for (const n of names) out.push(`- **${n}**: ${(r.micro.find((m) => m.name === n) as MicroRow).covers}`)
  out.push('')
  if (r.servers) {
    const by = new Map(r.servers.map((s) => [s.kind, s]))
    out.push('### Server overhead (autocannon, 10 connections, 1 KiB signed POST, 127.0.0.1)', '')
    out.push(
      '| server | req/s | p50 ms | p99 ms | non-2xx | vs plain | vs floor verifier | server CPU µs/req | CPU vs floor |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const s of r.servers) {
      const fw = s.kind.split('-')[0]
      const plain = by.get(`${fw}-plain` as ServerRow['kind'])
      const floor = by.get(`${fw}-floor` as ServerRow['kind'])
      // --server-kinds may leave out a row's plain or floor server.
      const pct = (a: number, b: number | undefined) => (b ? `${((100 * a) / b).toFixed(0)}%` : '—')
      out.push(
        `| ${s.kind} | ${s.reqPerSec.toFixed(0)} | ${s.p50Ms} | ${s.p99Ms} | ${s.non2xx} | ${pct(s.reqPerSec, plain?.reqPerSec)} | ${pct(s.reqPerSec, floor?.reqPerSec)} | ${s.cpuUsPerReq?.toFixed(0) ?? '—'} | ${s.cpuUsPerReq ? pct(s.cpuUsPerReq, floor?.cpuUsPerReq) : '—'} |`,
      )
    }
    out.push('')
  }
  if (r.nonce) {
    out.push('### Memory nonce store', '')
    out.push(
      `- ${r.nonce.bytesPerEntry.toFixed(1)} bytes per entry at ${r.nonce.entries.toLocaleString('en')} entries (heapUsed + arrayBuffers delta after GC; the original string-keyed \`Map\` store: ${r.nonce.previousBytesPerEntry.toFixed(1)}).`,
    )
    if (r.nonce.insertNs !== undefined)
      out.push(
        `- One checkAndSet at ${r.nonce.entries.toLocaleString('en')} entries: new pair ${r.nonce.insertNs.toFixed(0)} ns, replay ${r.nonce.replayNs?.toFixed(0)} ns (string-keyed \`Map\`: ${r.nonce.previousInsertNs?.toFixed(0)} ns, ${r.nonce.previousReplayNs?.toFixed(0)} ns).`,
      )
    out.push(
      `- Sigil verify (1 KiB) as the store fills: ${r.nonce.fill.map((f) => `${f.entries.toLocaleString('en')} entries → ${f.usPerVerify.toFixed(1)} µs`).join('; ')}.`,
    )
    const f = r.nonce.flood
    if (f)
      out.push(
        `- Key A floods ${f.calls.toLocaleString('en')} pairs into a ${f.share.toLocaleString('en')} share while key B signs every 1,000th request (load average ${f.loadBefore.toFixed(1)} → ${f.loadAfter.toFixed(1)}): worst single checkAndSet ${f.worstCallMs.toFixed(2)} ms wall, ${f.worstCallOnCpuMs.toFixed(2)} ms on the CPU (min of wall and process CPU time; ${f.onCpuOver1Ms} calls over 1 ms, ${f.onCpuOver2Ms} over 2 ms), p99.9 ${(f.p999CallMs * 1000).toFixed(0)} µs, mean ${f.meanCallNs.toFixed(0)} ns; by wall time ${f.callsOver1Ms} calls over 1 ms, ${f.callsOver2Ms} over 2 ms, ${f.callsOver5Ms} over 5 ms; the ${f.maintenanceCalls} calls that split or grew a table: median ${(f.maintenanceMedianMs * 1000).toFixed(0)} µs, worst ${f.maintenanceWorstMs.toFixed(2)} ms, at most ${f.maxWorkSlots.toLocaleString('en')} slots touched; worst event-loop delay ${f.eventLoopDelayMaxMs.toFixed(1)} ms (worst GC pause ${f.gcWorstMs.toFixed(1)} ms). A refused ${f.refused.toLocaleString('en')}, B accepted ${f.victimAccepted}/${f.victimSent}.`,
      )
    out.push('')
  }
  if (r.big) {
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`
    out.push('### Streaming a large body (createSignedFetch → node:http, retainBody: false)', '')
    out.push(
      `- ${(r.big.bytes / 1024 ** 3).toFixed(2)} GiB in ${r.big.seconds.toFixed(1)} s: ${(r.big.throughput / 1024 / 1024).toFixed(0)} MiB/s end to end (the client reads the file twice: digest, then send; the server digests while receiving), status ${r.big.status}, fetch redirect mode '${r.big.redirect}'.`,
      `- Peak RSS: client ${mib(r.big.clientPeakRss)}, server ${mib(r.big.serverPeakRss)}; an idle process with the same modules loaded: ${mib(r.big.baselineRss)}.`,
      '',
    )
  }
  if (r.ece) out.push(...eceMarkdown(r.ece))
  if (r.redis) {
    out.push('### Verify with memory vs Redis stores', '', '| entry | ops/s | p50 µs | p99 µs |', '| --- | ---: | ---: | ---: |')
    for (const x of r.redis) out.push(`| ${x.name} | ${x.opsPerSec.toFixed(0)} | ${x.p50Us.toFixed(0)} | ${x.p99Us.toFixed(0)} |`)
    out.push('')
  }
  return `${out.join('\n')}\n`
}

function chart(rows: MicroRow[]): string {
  const sorted = [...rows].sort((a, b) => a.ratio - b.ratio)
  const max = Math.max(...sorted.map((r) => r.ratio))
  const w = 640
  const bar = 22
  const left = 210
  const h = 40 + sorted.length * (bar + 6)
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const bars = sorted
    .map((r, i) => {
      const y = 30 + i * (bar + 6)
      const len = ((w - left - 70) * r.ratio) / max
      const fill = r.kind === 'sigil' ? '#2f6fdf' : r.kind === 'floor' ? '#888' : '#c9c9c9'
      return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text><rect x="${left}" y="${y}" width="${len.toFixed(1)}" height="${bar}" fill="${fill}"/><text x="${(left + len + 6).toFixed(1)}" y="${y + 15}">${r.ratio.toFixed(2)}×</text>`
    })
    .join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<text x="10" y="18" font-weight="bold">sign + verify, 1 KiB body: time as a multiple of the node:crypto floor (lower is better)</text>
${bars}
</svg>
`
}
