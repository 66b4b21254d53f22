import { SigilError, type SigilErrorCode } from '@sigil/core'
import { type IncomingRequest, isPromise, type Verified, type VerifyContext } from './incoming.js'
import { compileOptions, type VerifierConfig, type VerifyOptions } from './options.js'
import { clock, recordTelemetry } from './telemetry.js'
import { recordUsage } from './usage.js'
import { incomingFromRequest } from './verify.js'
import { Check, registerStoreWindow, runSteps, type Shared } from './verify-steps.js'

/** A compiled verifier: options validated once, then `verify` per request. */
export interface Verifier {
  readonly config: VerifierConfig
  /** Verify an adapter-built request (see `@sigil/server/node`, `verify()` for Web Requests). */
  verifyIncoming(input: IncomingRequest, context?: VerifyContext): Promise<Verified>
  /**
   * Run the same steps as {@link Verifier.verifyIncoming} and report each instead of throwing:
   * which passed, which failed with what code, and the signature base this verifier rebuilt.
   * Nothing is recorded: no nonce is stored, no rate-limit point spent, no usage written.
   * `sigil explain` is this function. Takes a Web `Request` (read as `verify()` reads one) or an
   * adapter-built request.
   *
   * @example
   * ```ts
   * const report = await createVerifier({ keys }).explain(new Request(url, { headers }))
   * for (const s of report.steps) console.log(s.step, s.ok, s.detail)
   * ```
   */
  explain(input: Request | IncomingRequest, context?: VerifyContext): Promise<Explanation>
}

/** The steps of SPEC §2, in order, as {@link Verifier.explain} names them. */
export const VERIFY_STEPS = ['parse', 'profile', 'time', 'key', 'mac', 'replay', 'body', 'authorize'] as const
export type VerifyStep = (typeof VERIFY_STEPS)[number]

/** One step of an {@link Explanation}; `ok: null` means not checked. */
export interface ExplainStep {
  step: VerifyStep
  ok: boolean | null
  code?: SigilErrorCode
  detail: string
}

/** What {@link Verifier.explain} found. Never contains a secret or a MAC. */
export interface Explanation {
  ok: boolean
  /** The code `verifyIncoming` would reject with. */
  code?: SigilErrorCode
  steps: ExplainStep[]
  /** The signature base this verifier rebuilt, once it got that far. */
  signatureBase?: string
  keyId?: string
  label?: string
}

const PASSED: Record<VerifyStep, string> = {
  parse: 'one signature selected',
  profile: 'parameters and covered components meet the profile',
  time: 'within the window',
  key: 'key is active',
  mac: 'HMAC-SHA256 matches',
  replay: 'not checked: explain records no nonce',
  body: 'body matches its Content-Digest, or carries no byte',
  authorize: 'scopes held; rate limits not consumed by explain',
}

/**
 * Build a verifier. Checks run in SPEC §2 order: parse, profile, time, key, MAC, replay, body,
 * authorize; failures are `VerificationError`s with stable codes. When the key store, the nonce
 * store (and the rate limiter, when there is one) answer synchronously and the body is already
 * in memory, every step runs in one synchronous pass: no promise per step, one per request
 * (adapters that can take a synchronous answer get none, see {@link verifyNow}). A store that
 * answers with a promise waits under `storeTimeoutMs`, and the remaining steps follow it.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ keys: { k_partner_1: secret } })
 * const verified = await verifier.verifyIncoming(incoming)
 * ```
 */
export function createVerifier(options: VerifyOptions): Verifier {
  const cfg = compileOptions(options)
  registerStoreWindow(cfg.nonceStore, cfg.windowS)
  const shared: Shared = {}

  /** The whole check; throws synchronously or returns (a promise of) the result. */
  function check(input: IncomingRequest, context: VerifyContext | undefined): Verified | Promise<Verified> {
    const started = cfg.telemetry === undefined ? 0 : clock()
    const c = new Check(cfg, shared, input, context, false)
    // Without a usage recorder or a telemetry hook there is nothing to do around the steps.
    if (!cfg.usage && !cfg.telemetry) return runSteps(c)
    let v: Verified | Promise<Verified>
    try {
      v = runSteps(c)
    } catch (e) {
      recordFailure(c, e, started)
      throw e
    }
    if (!isPromise(v)) return recordSuccess(c, v, started)
    return v.then(
      (ok) => recordSuccess(c, ok, started),
      (e: unknown) => {
        recordFailure(c, e, started)
        throw e
      },
    )
  }

  // Every verification ends in one of these two (thrown errors and store outages included).
  function recordSuccess(c: Check, v: Verified, started: number): Verified {
    if (cfg.telemetry) recordTelemetry(cfg.telemetry, started, c, false)
    if (!cfg.usage) return v
    recordUsage(cfg.usage, {
      keyId: v.keyId,
      principal: v.principal,
      keyFound: true,
      outcome: 'accepted',
      at: new Date(cfg.now()),
      ...(c.request.address ? { address: c.request.address } : {}),
    })
    return v
  }

  function recordFailure(c: Check, e: unknown, started: number): void {
    if (cfg.telemetry) recordTelemetry(cfg.telemetry, started, c, true, e)
    if (!cfg.usage) return
    recordUsage(cfg.usage, {
      ...(c.keyId !== undefined ? { keyId: c.keyId } : {}),
      ...(c.principal !== undefined ? { principal: c.principal } : {}),
      ...(c.keyFound !== undefined ? { keyFound: c.keyFound } : {}),
      outcome: e instanceof SigilError ? e.code : 'INTERNAL_ERROR',
      at: new Date(cfg.now()),
      ...(c.request.address ? { address: c.request.address } : {}),
    })
  }

  const verifier: Verifier = {
    config: cfg,
    verifyIncoming(input, context) {
      try {
        const v = check(input, context)
        return isPromise(v) ? v : Promise.resolve(v)
      } catch (e) {
        return Promise.reject(e)
      }
    },
    async explain(request, context) {
      const input = typeof Request !== 'undefined' && request instanceof Request ? incomingFromRequest(request, verifier) : request
      const c = new Check(cfg, shared, input as IncomingRequest, context, true)
      const report = (code?: SigilErrorCode, detail?: string): Explanation => {
        const reached = c.step === undefined ? 0 : VERIFY_STEPS.indexOf(c.step)
        const steps: ExplainStep[] = VERIFY_STEPS.slice(0, code ? reached : VERIFY_STEPS.length).map((step) => ({
          step,
          ok: step === 'replay' ? null : true,
          detail: PASSED[step],
        }))
        if (code) steps.push({ step: c.step ?? 'parse', ok: false, code, detail: detail ?? code })
        const out: Explanation = { ok: !code, steps }
        if (code) out.code = code
        if (c.base !== undefined) out.signatureBase = c.base
        if (c.keyId !== undefined) out.keyId = c.keyId
        if (c.label !== undefined) out.label = c.label
        return out
      }
      try {
        await runSteps(c)
        return report()
      } catch (e) {
        if (e instanceof SigilError) return report(e.code, e.message)
        throw e
      }
    },
  }
  direct.set(verifier, check)
  return verifier
}

const direct = new WeakMap<object, (input: IncomingRequest, context: VerifyContext | undefined) => Verified | Promise<Verified>>()

/**
 * Verify with `verifier`, answering synchronously when every step could: the result itself, or a
 * synchronous throw, instead of a promise. Adapters that can take either (a Fastify hook, a
 * Node listener) skip the promise; a verifier not made by {@link createVerifier} is awaited.
 */
export function verifyNow(verifier: Verifier, input: IncomingRequest, context?: VerifyContext): Verified | Promise<Verified> {
  const run = direct.get(verifier)
  return run ? run(input, context) : verifier.verifyIncoming(input, context)
}
