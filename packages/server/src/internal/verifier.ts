import {
  ComponentError,
  checkContentDigest,
  component,
  concatBytes,
  createDigester,
  type DigestAlgorithm,
  digestStream,
  type KeyRecord,
  MIN_SECRET_BYTES,
  PRESIGNED_MAX_LIFETIME_S,
  PRESIGNED_TAG,
  parseContentDigest,
  parseSignatures,
  type RequestMessage,
  randomBytes,
  SigilError,
  type SigilErrorCode,
  type SignatureEntry,
  signatureBase,
  VerificationError,
} from '@sigil/core'
import { hasAnyByte, type IncomingRequest, type PushBody, readBodyWithin, type Verified, type VerifyContext } from './incoming.js'
import { compileOptions, type VerifierConfig, type VerifyOptions } from './options.js'
import { type PresignedOptions, presignedView } from './presigned.js'
import { rateLimitHeaders, reportInternal } from './problem.js'
import { hasScope } from './route-requirements.js'
import { recordUsage } from './usage.js'

/** A compiled verifier: options validated once, then `verify` per request. */
export interface Verifier {
  readonly config: VerifierConfig
  /** Verify an adapter-built request (see `@sigil/server/node`, `verify()` for Web Requests). */
  verifyIncoming(input: IncomingRequest, context?: VerifyContext): Promise<Verified>
  /**
   * Run the same steps as {@link Verifier.verifyIncoming} and report each instead of throwing:
   * which passed, which failed with what code, and the signature base this verifier rebuilt.
   * Nothing is recorded: no nonce is stored, no rate-limit point spent, no usage written.
   * `sigil explain` is this function.
   */
  explain(input: IncomingRequest, context?: VerifyContext): Promise<Explanation>
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

/** What a run leaves behind for usage records and explain(). */
interface Note {
  keyId?: string
  principal?: string
  keyFound?: boolean
  step?: VerifyStep
  base?: string
  label?: string
  /** explain(): check, but record nothing. */
  dryRun?: boolean
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

/** Where a bad MAC usually comes from, said without echoing any value. */
function macHint(m: RequestMessage, cfg: VerifierConfig): string {
  const forwarded = m.headers.get('x-forwarded-host') !== null || m.headers.get('forwarded') !== null
  const from = cfg.authority !== undefined ? 'the authority option' : cfg.trustProxy && forwarded ? 'the trusted proxy header' : 'Host'
  const proxy = forwarded && !cfg.trustProxy ? '; X-Forwarded-Host/Forwarded is present but trustProxy is off' : ''
  return `the signer saw a different base or used another secret: @authority came from ${from} (${m.authority})${proxy}; compare the signature base with the client's`
}

const fail = (code: ConstructorParameters<typeof VerificationError>[0], message: string, headers?: Record<string, string>): never => {
  const e = new VerificationError(code, message)
  if (headers) e.headers = headers
  throw e
}

const SHA256_ONLY: readonly DigestAlgorithm[] = ['sha-256']
/** Methods whose presigned links may carry a body without binding it (SPEC §7). */
const UPLOAD_METHODS = new Set(['PUT', 'POST', 'PATCH'])
// Ids as the parser gives them (component(...).id), so the profile check compares like with like.
const URL_COMPONENTS = ['@method', '@authority', '@path', '@query'].map((n) => component(n).id)
const SHA512_ONLY: readonly DigestAlgorithm[] = ['sha-512']
// Kept past a signature's last valid instant, for a store whose clock runs slightly behind ours.
const TTL_MARGIN_MS = 1000

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T>)?.then === 'function'
}

/** The error a store failure becomes: a store's own 4xx verdict as is, anything else a generic 503. */
const generic = new WeakSet<object>()
function storeError(e: unknown, what: string): unknown {
  if (typeof e === 'object' && e !== null && generic.has(e)) return e
  if (e instanceof SigilError && e.status < 500 && e.code !== 'CONFIGURATION_INVALID') return e
  // The detail (a decrypt failure, a driver message, a key id) is for the server's log, not the
  // caller: the cause travels on the error and is reported by `onError` under a correlation id.
  const err = new VerificationError('STORE_UNAVAILABLE', `${what} did not answer`, { cause: e })
  generic.add(err)
  return err
}

/**
 * Call a store; a synchronous answer (memory stores) is returned as is, so the hot path does not
 * pay for a promise, a timer and a race. An async answer is awaited under a deadline. Any failure
 * or timeout is `STORE_UNAVAILABLE`.
 */
function store<T>(what: string, ms: number, call: () => T | Promise<T>): T | Promise<T> {
  let v: T | Promise<T>
  try {
    v = call()
  } catch (e) {
    throw storeError(e, what)
  }
  return isPromise(v) ? withDeadline(what, ms, v) : v
}

async function withDeadline<T>(what: string, ms: number, v: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      v,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms)
      }),
    ])
  } catch (e) {
    throw storeError(e, what)
  } finally {
    if (timer) clearTimeout(timer)
  }
}

function selectEntry(entries: SignatureEntry[], tag: string | null): SignatureEntry {
  if (tag === null) {
    if (entries.length !== 1) fail('SIGNATURE_MALFORMED', 'expected exactly one signature')
    const only = entries[0] as SignatureEntry
    // A presigned URL's signature never counts as a header signature (SPEC §7).
    if (only.params.tag === PRESIGNED_TAG) fail('SIGNATURE_MISSING', 'a URL signature cannot be sent as headers')
    return only
  }
  let found: SignatureEntry | undefined
  for (const e of entries) {
    if (e.params.tag !== tag) continue
    if (found) fail('SIGNATURE_MALFORMED', 'more than one signature carries our tag')
    found = e
  }
  return found ?? fail('SIGNATURE_MISSING', 'no signature carries the expected tag')
}

function keyProblem(key: KeyRecord | undefined, nowMs: number): 'KEY_UNKNOWN' | 'KEY_REVOKED' | 'KEY_EXPIRED' | undefined {
  if (!key) return 'KEY_UNKNOWN'
  if (key.status === 'revoked') return 'KEY_REVOKED'
  if (key.status === 'expired') return 'KEY_EXPIRED'
  if (key.expiresAt && key.expiresAt.getTime() <= nowMs) return 'KEY_EXPIRED'
  if (key.notAfter && key.notAfter.getTime() <= nowMs) return 'KEY_EXPIRED'
  if (key.algorithm && key.algorithm !== 'hmac-sha256') return 'KEY_UNKNOWN'
  return undefined
}

/**
 * Build a verifier. Checks run in SPEC §2 order: parse, profile, time, key, MAC, replay, body,
 * authorize; failures are `VerificationError`s with stable codes.
 *
 * @example
 * ```ts
 * const verifier = createVerifier({ keys: { k_partner_1: secret } })
 * const verified = await verifier.verifyIncoming(incoming)
 * ```
 */
export function createVerifier(options: VerifyOptions): Verifier {
  const cfg = compileOptions(options)
  // Drawn on first use, not at construction: Workers forbid randomness at global scope.
  let decoy: Uint8Array | undefined
  const fail503 = (what: string, e: unknown): never => {
    const err = storeError(e, what)
    if (err instanceof VerificationError && err.code === 'STORE_UNAVAILABLE') reportInternal(err, cfg.onError)
    throw err
  }

  async function run(request: IncomingRequest, ctx: VerifyContext | undefined, note: Note): Promise<Verified> {
    // A presigned URL (SPEC §7) only where the integrator allows it; elsewhere its query is a query.
    const presignedCfg: PresignedOptions | undefined = ctx?.presigned ?? cfg.presigned
    const pre = presignedCfg ? presignedView(request) : null
    const input = pre ? pre.input : request
    const m = input.message
    const maxBodyBytes = pre?.bound.maxBytes !== undefined ? Math.min(pre.bound.maxBytes, cfg.maxBodyBytes) : cfg.maxBodyBytes
    if (input.contentLength !== undefined && input.contentLength > maxBodyBytes) {
      fail('BODY_TOO_LARGE', `body exceeds ${maxBodyBytes} bytes`)
    }
    // 1. Parse
    note.step = 'parse'
    const entries = parseSignatures(m.headers.get('signature-input'), m.headers.get('signature'), cfg.limits)
    const entry = selectEntry(entries, pre ? PRESIGNED_TAG : cfg.tag)
    const p = entry.params
    note.label = entry.label
    if (note.dryRun) {
      // explain() shows the base even when an earlier step fails (time, key).
      try {
        note.base = signatureBase(m, entry.components, entry.paramsValue)
      } catch {}
    }
    // 2. Profile
    note.step = 'profile'
    if (p.keyid === undefined) fail('PROFILE_VIOLATION', 'keyid is required')
    note.keyId = p.keyid
    if (p.created === undefined) fail('PROFILE_VIOLATION', 'created is required')
    if ((pre || cfg.profile === 'sigil') && p.nonce === undefined) fail('PROFILE_VIOLATION', 'nonce is required')
    if (p.alg !== undefined && p.alg !== 'hmac-sha256') fail('PROFILE_VIOLATION', 'alg must be hmac-sha256')
    const required = pre ? URL_COMPONENTS : cfg.required
    for (const id of required) {
      if (!entry.components.some((c) => c.id === id)) fail('PROFILE_VIOLATION', `signature must cover ${id}`)
    }
    const digestCovered = !pre && entry.components.some((c) => c.name === 'content-digest')
    if (!pre && input.hasBody && !digestCovered && cfg.digestRequired)
      fail('DIGEST_MISSING', 'a request with a body must cover content-digest')
    // 3. Time
    note.step = 'time'
    const nowMs = cfg.now()
    const nowS = nowMs / 1000
    const created = p.created as number
    if (pre) {
      // A link lives until `expires`, not ±window: only `created` from the future is skew.
      if (p.expires === undefined) fail('PROFILE_VIOLATION', 'a presigned URL must carry expires')
      const lifetime = (p.expires as number) - created
      if (lifetime < 0) fail('SIGNATURE_MALFORMED', 'expires is before created')
      if (lifetime > (presignedCfg?.maxLifetime ?? PRESIGNED_MAX_LIFETIME_S)) fail('PROFILE_VIOLATION', 'presigned URL lives too long')
      if (created - nowS > cfg.windowS) {
        fail('CLOCK_SKEW', `created is more than ${cfg.windowS} s ahead`, { date: new Date(nowMs).toUTCString() })
      }
    } else if (Math.abs(created - nowS) > cfg.windowS) {
      // Date from the verifier's own clock, so the client corrects to the time we judge by.
      fail('CLOCK_SKEW', `created is outside the ${cfg.windowS} s window`, { date: new Date(nowMs).toUTCString() })
    }
    if (p.expires !== undefined) {
      if (p.expires < created) fail('SIGNATURE_MALFORMED', 'expires is before created')
      if (p.expires <= nowS) fail('SIGNATURE_EXPIRED', 'signature has expired')
    }
    // 4. Key (algorithm comes from the key record, never from the header)
    note.step = 'key'
    const keyId = p.keyid as string
    let key: KeyRecord | undefined
    try {
      // A cache's `lookup` answers a hit synchronously: no promise, no deadline timer.
      const keys = cfg.keys
      const keyAnswer = store('key store', cfg.storeTimeoutMs, () => (keys.lookup ? keys.lookup(keyId) : keys.get(keyId)))
      key = isPromise(keyAnswer) ? await keyAnswer : keyAnswer
    } catch (e) {
      fail503('key store', e)
    }
    const problem = keyProblem(key, nowMs)
    note.keyFound = key !== undefined
    // A record whose secret is not >= 32 bytes is never MACed against: fail closed, like a store outage.
    if (!problem) {
      const sk = (key as KeyRecord).secret
      if (!(sk instanceof Uint8Array) || sk.length < MIN_SECRET_BYTES)
        fail503('key store', new Error(`key store returned a secret shorter than ${MIN_SECRET_BYTES} bytes for key ${keyId}`))
    }
    if (problem && !cfg.opaque) fail(problem, `key is ${problem.slice(4).toLowerCase()}`)
    // 5. MAC (in opaque mode an unusable key is MACed against a decoy, so it costs the same)
    note.step = 'mac'
    let base: string
    try {
      base = signatureBase(m, entry.components, entry.paramsValue)
    } catch (e) {
      if (e instanceof ComponentError) fail('SIGNATURE_INVALID', e.message)
      throw e
    }
    if (problem && !decoy) decoy = randomBytes(32)
    const secret = problem ? (decoy as Uint8Array) : (key as KeyRecord).secret
    const okAnswer = cfg.hmac.verify(secret, base, entry.signature)
    const ok = typeof okAnswer === 'boolean' ? okAnswer : await okAnswer
    // One throw site for an unusable key and a bad MAC, so opaque mode costs the same either way.
    if (problem || !ok) {
      const e = new VerificationError('SIGNATURE_INVALID', note.dryRun && !problem ? macHint(m, cfg) : 'signature does not verify')
      if (cfg.debug && !problem) Object.defineProperty(e, 'signatureBase', { value: base, enumerable: false })
      throw e
    }
    const k = key as KeyRecord
    note.principal = k.principal
    // 6. Replay, only after the MAC is good. A link is multi-use unless it, or the route, says once.
    // A nonce an outer verifier already counted for this same request (stacked middleware) is not
    // counted again; everything else is still checked by this verifier.
    note.step = 'replay'
    const counted = note.dryRun || (request.replayChecked?.keyId === keyId && request.replayChecked.nonce === p.nonce)
    if (p.nonce !== undefined && !counted && (!pre || pre.bound.once || presignedCfg?.singleUse)) {
      const nonce = p.nonce
      // Remember the pair past the last instant at which this signature could still verify: the
      // end of the window around `created`, or `expires` when earlier (SPEC §2.6).
      const lastS = pre
        ? (p.expires as number) + cfg.windowS
        : p.expires !== undefined
          ? Math.min(created + cfg.windowS, p.expires)
          : created + cfg.windowS
      const ttl = Math.ceil(Math.max(0, lastS * 1000 - nowMs)) + TTL_MARGIN_MS
      let fresh: boolean
      try {
        const freshAnswer = store('nonce store', cfg.storeTimeoutMs, () => cfg.nonceStore.checkAndSet(keyId, nonce, ttl, created))
        fresh = isPromise(freshAnswer) ? await freshAnswer : freshAnswer
      } catch (e) {
        fresh = fail503('nonce store', e)
      }
      if (!fresh) fail('NONCE_REPLAYED', 'nonce was already used with this key')
    }
    // 7. Body
    note.step = 'body'
    let body: Uint8Array | undefined
    const digestValue = pre ? (pre.bound.contentDigest ?? null) : digestCovered ? m.headers.get('content-digest') : null
    // An upload link bound to a size alone is still read, to hold it to that size.
    if (digestValue !== null || pre?.bound.maxBytes !== undefined) {
      const declared = digestValue === null ? new Map() : parseContentDigest(digestValue)
      if (digestValue !== null && declared.size === 0) fail('DIGEST_MISSING', 'Content-Digest carries no supported algorithm')
      const parts: Uint8Array[] | undefined = cfg.retainBody ? [] : undefined
      const digester = createDigester({
        algorithms:
          declared.size === 0
            ? SHA256_ONLY
            : declared.size === 1
              ? declared.keys().next().value === 'sha-256'
                ? SHA256_ONLY
                : SHA512_ONLY
              : [...declared.keys()],
        maxBytes: maxBodyBytes,
        ...(parts ? { onChunk: (c: Uint8Array) => parts.push(c) } : {}),
      })
      const src = input.body()
      if (src !== null) {
        if (typeof (src as Iterable<Uint8Array>)[Symbol.iterator] === 'function' && typeof (src as PushBody).feed !== 'function') {
          // Chunks already in memory: no await per chunk.
          for (const c of src as Iterable<Uint8Array>) digester.take(c)
        } else
          await readBodyWithin(cfg.bodyTimeoutMs, () =>
            typeof (src as PushBody).feed === 'function'
              ? (src as PushBody).feed(digester.take)
              : digestStream(src as AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, {
                  algorithms: [],
                  onChunk: digester.take,
                }).then(() => undefined),
          )
      }
      const { digests, bytes } = digester.result()
      if (declared.size) checkContentDigest(declared, digests)
      if (parts) body = concatBytes(parts, bytes)
    }
    // Body presence is decided by the bytes, not the framing (SPEC §2 step 7): a body the framing
    // did not announce (HTTP/2 DATA, chunked, a Web stream) still needs a covered digest.
    // The same holds for a presigned link that is not an upload link (SPEC §7): a GET, HEAD or
    // DELETE link binds no body, so bytes sent with it are refused rather than handed to the app.
    const unboundBody = pre
      ? !UPLOAD_METHODS.has(m.method) && digestValue === null && pre.bound.maxBytes === undefined && (input.hasBody || input.mayHaveBody)
      : !digestCovered && input.mayHaveBody && cfg.digestRequired
    if (unboundBody && (await readBodyWithin(cfg.bodyTimeoutMs, () => hasAnyByte(input.body()))))
      fail('DIGEST_MISSING', pre ? 'this link is not an upload link: it takes no body' : 'a request with a body must cover content-digest')
    // 8. Authorize
    note.step = 'authorize'
    const scopes = ctx?.requiredScopes ? [...cfg.requiredScopes, ...ctx.requiredScopes] : cfg.requiredScopes
    for (const s of scopes) if (!hasScope(k.scopes, s)) fail('SCOPE_DENIED', `key lacks scope ${s}`)
    let rateLimit: Verified['rateLimit']
    if (cfg.rateLimiter && !note.dryRun) {
      const limiter = cfg.rateLimiter
      let d: Awaited<ReturnType<typeof limiter.consume>>
      try {
        d = await store('rate limiter', cfg.storeTimeoutMs, () => limiter.consume(k))
      } catch (e) {
        d = fail503('rate limiter', e)
      }
      if (!d.allowed)
        fail(d.code ?? 'RATE_LIMITED', d.code === 'QUOTA_EXCEEDED' ? 'quota exhausted' : 'rate limit exceeded', rateLimitHeaders(d))
      if (d.limit) rateLimit = { limit: d.limit, remaining: d.remaining, resetSeconds: d.resetSeconds, windowSeconds: d.windowSeconds }
    }
    // 9. Result (same keys, same order as ever; optional ones only when set)
    const v = { keyId, principal: k.principal, scopes: k.scopes, created } as Verified
    if (p.expires !== undefined) v.expires = p.expires
    if (p.nonce !== undefined) v.nonce = p.nonce
    v.label = entry.label
    if (pre) v.presigned = true
    if (body) v.body = body
    if (k.metadata) v.metadata = k.metadata
    if (rateLimit) v.rateLimit = rateLimit
    return v
  }

  return {
    config: cfg,
    verifyIncoming(input, context) {
      const note: Note = {}
      // Without a usage recorder there is nothing to do around `run`: hand its promise back as is.
      if (!cfg.usage) return run(input, context, note)
      return recorded(input, context, note)
    },
    async explain(input, context) {
      const note: Note = { dryRun: true }
      const report = (code?: SigilErrorCode, detail?: string): Explanation => {
        const reached = note.step === undefined ? 0 : VERIFY_STEPS.indexOf(note.step)
        const steps: ExplainStep[] = VERIFY_STEPS.slice(0, code ? reached : VERIFY_STEPS.length).map((step) => ({
          step,
          ok: step === 'replay' ? null : true,
          detail: PASSED[step],
        }))
        if (code) steps.push({ step: note.step ?? 'parse', ok: false, code, detail: detail ?? code })
        const out: Explanation = { ok: !code, steps }
        if (code) out.code = code
        if (note.base !== undefined) out.signatureBase = note.base
        if (note.keyId !== undefined) out.keyId = note.keyId
        if (note.label !== undefined) out.label = note.label
        return out
      }
      try {
        await run(input, context, note)
        return report()
      } catch (e) {
        if (e instanceof SigilError) return report(e.code, e.message)
        throw e
      }
    },
  }

  async function recorded(input: IncomingRequest, context: VerifyContext | undefined, note: Note) {
    try {
      const v = await run(input, context, note)
      if (cfg.usage)
        recordUsage(cfg.usage, {
          keyId: v.keyId,
          principal: v.principal,
          keyFound: true,
          outcome: 'accepted',
          at: new Date(cfg.now()),
          ...(input.address ? { address: input.address } : {}),
        })
      return v
    } catch (e) {
      const code = e instanceof SigilError ? e.code : 'INTERNAL_ERROR'
      if (cfg.usage)
        recordUsage(cfg.usage, {
          ...(note.keyId !== undefined ? { keyId: note.keyId } : {}),
          ...(note.principal !== undefined ? { principal: note.principal } : {}),
          ...(note.keyFound !== undefined ? { keyFound: note.keyFound } : {}),
          outcome: code,
          at: new Date(cfg.now()),
          ...(input.address ? { address: input.address } : {}),
        })
      throw e
    }
  }
}
