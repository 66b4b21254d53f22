import {
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
  metrics,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import { checkOptions, optionNames, optionsError } from '@sigil/core/internal'
import type { VerificationEvent, VerificationTelemetry } from './internal/telemetry.js'

// The `@sigil/server/otel` entry: the only one that imports @opentelemetry/api (an optional peer),
// so `@sigil/server` and its adapters load without it.

/** Options of {@link sigilTelemetry}. */
export interface SigilTelemetryOptions {
  /** Where the counter and the histogram go. Default: the global one (`metrics.setGlobalMeterProvider`, or the SDK's `start()`). */
  meterProvider?: MeterProvider
  /** Where the spans go. Default: the global one (`trace.setGlobalTracerProvider`, or the SDK's `start()`). */
  tracerProvider?: TracerProvider
}

const OPTION_NAMES = optionNames<SigilTelemetryOptions>({ meterProvider: true, tracerProvider: true })

/** The instrumentation scope the meter and the tracer are named after. */
const SCOPE = '@sigil/server'

/**
 * Bucket boundaries of the duration histogram, in seconds: a verification from memory takes a few
 * µs, one waiting on a remote store milliseconds, one past `storeTimeoutMs` seconds (OpenTelemetry's
 * default boundaries are for milliseconds and would put every verification in the first bucket).
 */
const DURATION_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]

interface Instruments {
  provider: MeterProvider
  count: Counter
  duration: Histogram
}

function instruments(provider: MeterProvider): Instruments {
  const meter = provider.getMeter(SCOPE)
  return {
    provider,
    count: meter.createCounter('sigil.verifications', {
      description: 'Signed-request verifications, by result (accepted or the error code), key class and route',
      unit: '{verification}',
    }),
    duration: meter.createHistogram('sigil.verification.duration', {
      description: 'Duration of signed-request verifications',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
  }
}

function hasMethod(v: unknown, name: string): boolean {
  return typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[name] === 'function'
}

/**
 * The verifier's `telemetry` hook for OpenTelemetry. Each verification adds to the counter
 * `sigil.verifications` and the histogram `sigil.verification.duration` (seconds), and is one
 * `sigil.verify` span (kind internal, a child of the active span: the server's request span).
 * Attributes, all bounded: `sigil.verification.result` (`accepted` or the error code),
 * `sigil.key.class` (`known`, `test`, `unknown`, `unresolved`, `none`), `http.request.method`,
 * `http.route` (when the adapter knows the route pattern), and `error.type` (the code) on
 * rejections. No key id, secret, signature, header value or URL. A span's status is `ERROR` for
 * a 5xx outcome (a store outage, an internal error) only: a rejected signature is the verifier
 * doing its job, as a 4xx leaves an HTTP server span unset.
 *
 * Without an OpenTelemetry SDK in the app this costs a few no-op calls per request; without this
 * hook, nothing.
 *
 * @example
 * ```ts
 * import { sigil } from '@sigil/server/express'
 * import { sigilTelemetry } from '@sigil/server/otel'
 * app.use(sigil({ keys, telemetry: sigilTelemetry() }))
 * ```
 */
export function sigilTelemetry(options: SigilTelemetryOptions = {}): VerificationTelemetry {
  checkOptions('telemetry options', options, OPTION_NAMES)
  if (typeof options !== 'object' || options === null) throw optionsError('telemetry options', '', 'expected an object')
  const { meterProvider, tracerProvider } = options
  if (meterProvider !== undefined && !hasMethod(meterProvider, 'getMeter'))
    throw optionsError('telemetry options', 'meterProvider', 'must be a MeterProvider (with getMeter())')
  if (tracerProvider !== undefined && !hasMethod(tracerProvider, 'getTracer'))
    throw optionsError('telemetry options', 'tracerProvider', 'must be a TracerProvider (with getTracer())')
  // The global meter provider has no proxy: one registered after this call (an SDK started after
  // the app's modules loaded) replaces the no-op one, so it is looked up again per event and the
  // instruments made anew when it changed. The global tracer provider is a proxy already.
  let current: Instruments | undefined = meterProvider ? instruments(meterProvider) : undefined
  let tracer: Tracer | undefined = tracerProvider?.getTracer(SCOPE)
  return {
    record(e: VerificationEvent): void {
      let m = current
      if (meterProvider === undefined) {
        const global = metrics.getMeterProvider()
        if (m?.provider !== global) m = current = instruments(global)
      }
      const attributes: Attributes = {
        'sigil.verification.result': e.result,
        'sigil.key.class': e.keyClass,
        'http.request.method': e.method,
      }
      if (e.route !== undefined) attributes['http.route'] = e.route
      if (e.result !== 'accepted') attributes['error.type'] = e.result
      ;(m as Instruments).count.add(1, attributes)
      ;(m as Instruments).duration.record(e.durationMs / 1000, attributes)
      tracer ??= trace.getTracer(SCOPE)
      const span = tracer.startSpan('sigil.verify', { kind: SpanKind.INTERNAL, startTime: e.startTime, attributes })
      if (e.status !== undefined && e.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: e.result })
      span.end(e.startTime + e.durationMs)
    },
  }
}

export type { KeyClass, VerificationEvent, VerificationTelemetry } from './internal/telemetry.js'
