// `tsx --conditions=source test/bench/telemetry.ts [rounds] [iterations]`: what the `telemetry` hook
// costs one verification (a signed GET, memory key, a nonce store that always answers "fresh", so
// one signed request is verified again and again, synchronously). Spans go through a
// BatchSpanProcessor, as in production.
import { metrics, trace } from '@opentelemetry/api'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { signRequest } from '@sigil/client'
import { randomBytes } from '@sigil/core/internal'
import { createVerifier, type VerificationTelemetry, type Verifier } from '@sigil/server'
import { sigilTelemetry } from '@sigil/server/otel'
import { incomingFromRequest } from '../../packages/server/src/internal/index.js'

const rounds = Number(process.argv[2] ?? 61)
const iterations = Number(process.argv[3] ?? 500)
const secret = randomBytes(32)
const keyId = 'kBenchTelemetry1'
const request = await signRequest(new Request('https://api.example.com/v1/orders?page=2'), { keyId, secret })

const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
})
const meterProvider = new MeterProvider({ readers: [reader] })
const spans = new InMemorySpanExporter()
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] })

const variants: Array<[string, VerificationTelemetry | undefined]> = [
  ['no hook', undefined],
  ['hook { record() {} }', { record() {} }],
  ['sigilTelemetry(), no SDK (no-op API)', sigilTelemetry()],
  ['sigilTelemetry(), SDK metrics only', sigilTelemetry({ meterProvider })],
  ['sigilTelemetry(), SDK spans only', sigilTelemetry({ tracerProvider })],
  ['sigilTelemetry(), SDK metrics + spans', sigilTelemetry({ meterProvider, tracerProvider })],
]
// No global SDK: the no-SDK variant is what an app without OpenTelemetry configured pays, and a
// variant given only one provider gets no-op instruments for the other.
metrics.disable()
trace.disable()

// One process per variant (so no variant's JIT feedback colours another's): the variant and the
// no-hook verifier run in adjacent batches, and the figure is the median of the per-pair
// differences, which holds still on a machine whose load changes from second to second.
const verifierOf = (telemetry: VerificationTelemetry | undefined): Verifier =>
  createVerifier({ keys: { [keyId]: secret }, nonceStore: { checkAndSet: () => true }, ...(telemetry ? { telemetry } : {}) })

function run(v: Verifier, n: number): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) v.verifyIncoming(incomingFromRequest(request, v)).catch(() => {})
  return Number(process.hrtime.bigint() - start) / 1000 / n
}

// Each verify resolves a promise: let them settle between batches.
const settle = () => new Promise((r) => setImmediate(r))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number

const only = process.argv[4]
if (only === undefined) {
  // Parent: each variant in its own child process, in turn.
  const { spawnSync } = await import('node:child_process')
  const rows = variants.slice(1).map(([name], k) => {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, process.argv[1] as string, String(rounds), String(iterations), String(k + 1)],
      {
        encoding: 'utf8',
      },
    )
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { baseUs: number; us: number; diffUs: number }
    return {
      variant: name,
      'no hook µs': r.baseUs.toFixed(2),
      'µs / verify': r.us.toFixed(2),
      'added µs (median of pairs)': r.diffUs.toFixed(2),
    }
  })
  console.table(rows)
} else {
  const base = verifierOf(undefined)
  const v = verifierOf((variants[Number(only)] as (typeof variants)[number])[1])
  for (let w = 0; w < 5; w++) {
    run(base, 1000)
    run(v, 1000)
    await settle()
  }
  const b: number[] = []
  const x: number[] = []
  const d: number[] = []
  for (let round = 0; round < rounds; round++) {
    const first = round % 2 === 0
    const t0 = first ? run(base, iterations) : run(v, iterations)
    await settle()
    const t1 = first ? run(v, iterations) : run(base, iterations)
    await settle()
    spans.reset()
    const [tb, tv] = first ? [t0, t1] : [t1, t0]
    b.push(tb)
    x.push(tv)
    d.push(tv - tb)
  }
  console.log(JSON.stringify({ baseUs: median(b), us: median(x), diffUs: median(d) }))
}
await meterProvider.shutdown()
await tracerProvider.shutdown()
