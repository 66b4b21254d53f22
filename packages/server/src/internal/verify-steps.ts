// The steps of SPEC §2 as functions over one per-request state object (Check), run in order by
// runSteps: synchronously while every step answers synchronously, behind a store's (or the
// body's) promise from the step that waits on.
import {
  type Component,
  ConfigurationError,
  checkContentDigest,
  DEFAULT_COMPONENTS,
  type DigestAlgorithm,
  type KeyRecord,
  type KeyResolver,
  parseSignatures,
  type RequestMessage,
  type SignatureEntry,
  signatureBase,
  VerificationError,
} from '@sigil/core'
import {
  algorithmOf,
  baseOf,
  ComponentError,
  checkProfile,
  contentDigestMatches,
  DEFAULT_ALGORITHM,
  digestStream,
  keyStatusAt,
  MIN_SECRET_BYTES,
  PRESIGNED_MAX_LIFETIME_S,
  PRESIGNED_TAG,
  type Profile,
  parseContentDigest,
  REQUEST_REFUSALS,
  randomBytes,
  renamedMessage,
  type SignatureAlgorithm,
  selectSignature,
  toBase64,
  verifyEntry,
} from '@sigil/core/internal'
import { BodySink } from './body-sink.js'
import { bodyCoding, decryptBody } from './encrypted-body.js'
import {
  attachReplayRecord,
  hasAnyByte,
  type IncomingRequest,
  isPromise,
  type PushBody,
  type ReplayRecord,
  readBodyWithin,
  replayCovered,
  type Verified,
  type VerifyContext,
} from './incoming.js'
import type { VerifierConfig } from './options.js'
import { type PresignedOptions, type PresignedView, presignedBodyLimit, presignedView } from './presigned.js'
import { rateLimitHeaders } from './problem.js'
import type { RateLimitDecision, RateLimiter } from './rate-limiter.js'
import { hasScope } from './route-requirements.js'
import { failStore, withDeadline } from './store-call.js'
import type { VerifyStep } from './verifier.js'

/** What a verifier keeps across requests, beside its configuration. */
export interface Shared {
  /** Opaque mode's record for unknown key ids: its secret is drawn on first use (Workers forbid randomness at global scope). */
  decoy?: KeyRecord
  /**
   * Secrets the key store has handed out; when it hands out a new array per lookup (a store
   * without a cache decrypts each time), `freshSecrets` is set and an unusable key is MACed
   * against a fresh copy of the decoy's secret, so it pays the same per-secret HMAC setup.
   */
  seen?: WeakSet<Uint8Array>
  freshSecrets?: boolean
  /** What a header signature must carry under this verifier's configuration (built on first use). */
  profile?: Profile
}

function profileOf(shared: Shared, cfg: VerifierConfig): Profile {
  let p = shared.profile
  if (p === undefined) {
    p = { required: cfg.required, nonce: cfg.profile === 'sigil' }
    shared.profile = p
  }
  return p
}

/** Where the verifier's `@authority` came from, and whether an untrusted proxy header was present. */
function authorityOrigin(m: RequestMessage, cfg: VerifierConfig): { from: string; untrustedProxyHeader: boolean } {
  const forwarded = m.headers.get('x-forwarded-host') !== null || m.headers.get('forwarded') !== null
  const from = cfg.authority !== undefined ? 'the authority option' : cfg.trustProxy && forwarded ? 'the trusted proxy header' : 'Host'
  return { from, untrustedProxyHeader: forwarded && !cfg.trustProxy }
}

/** Where a bad MAC usually comes from, said without echoing any value. */
function macHint(m: RequestMessage, cfg: VerifierConfig): string {
  const { from, untrustedProxyHeader } = authorityOrigin(m, cfg)
  const proxy = untrustedProxyHeader ? '; X-Forwarded-Host/Forwarded is present but trustProxy is off' : ''
  return `the signer saw a different base or used another secret: @authority came from ${from} (${m.authority})${proxy}; compare the signature base with the client's`
}

/**
 * What a request signed with a test key is told when it fails (SPEC §4, test keys): the server's
 * signature base, where `@authority` came from, whether the body matched its `Content-Digest`, and
 * the covered components the server can tell differed. Only ever built for a key that was found
 * and is a test key: never for a live key, an unknown key id, or a revoked or expired key.
 */
export interface TestKeyExplanation {
  /** The signature base the server rebuilt from the request as received (no trailing newline). */
  signatureBase: string
  authority: { value: string; from: string; untrustedProxyHeader: boolean }
  /**
   * `matched` / `mismatched`: the body received against the covered `Content-Digest`;
   * `not-covered`: the signature covers no `content-digest`.
   */
  digest: 'matched' | 'mismatched' | 'not-covered'
  /** SHA-256 of the body as received (`sha-256=:…:`), to compare with the one the client sent. */
  receivedDigest?: string
  /** Covered components the server can tell differed (e.g. `content-digest`); empty when it cannot tell. */
  differed: string[]
  hint: string
}

const fail = (code: ConstructorParameters<typeof VerificationError>[0], message: string, headers?: Record<string, string>): never => {
  const e = new VerificationError(code, message)
  if (headers) e.headers = headers
  throw e
}

const SHA256_ONLY: readonly DigestAlgorithm[] = ['sha-256']
/** Methods whose presigned links may carry a body without binding it (SPEC §7). */
const UPLOAD_METHODS = new Set(['PUT', 'POST', 'PATCH'])
// A presigned URL covers what a bodyless request does (SPEC §7), nonce included; ids as the parser
// gives them (component(...).id), so the profile check compares like with like.
const URL_PROFILE: Profile = { required: DEFAULT_COMPONENTS.bodyless.map((c) => c.id), nonce: true }
const SHA512_ONLY: readonly DigestAlgorithm[] = ['sha-512']

/** The algorithm of a Content-Digest that is exactly one `sha-256` or `sha-512` member of canonical length, else undefined. */
function shapedDigest(v: string): readonly DigestAlgorithm[] | undefined {
  if (v.length === 54 && v.charCodeAt(53) === 0x3a && v.startsWith('sha-256=:')) return SHA256_ONLY
  if (v.length === 98 && v.charCodeAt(97) === 0x3a && v.startsWith('sha-512=:')) return SHA512_ONLY
  return undefined
}
// Kept past a signature's last valid instant, for a store whose clock runs slightly behind ours.
const TTL_MARGIN_MS = 1000

function keyProblem(key: KeyRecord | undefined, nowMs: number): 'KEY_UNKNOWN' | 'KEY_REVOKED' | 'KEY_EXPIRED' | undefined {
  if (!key) return 'KEY_UNKNOWN'
  const status = keyStatusAt(key, nowMs)
  if (status === 'revoked') return 'KEY_REVOKED'
  if (status === 'expired') return 'KEY_EXPIRED'
  // The algorithm comes from the key record, never from the header: one Sigil does not know is no key.
  if (algorithmOf(key.algorithm) === undefined) return 'KEY_UNKNOWN'
  return undefined
}

const NO_ALGORITHMS: readonly DigestAlgorithm[] = []
const NO_DIGESTS: ReadonlyMap<DigestAlgorithm, Uint8Array> = new Map()

/**
 * One request on its way through the steps: what each step leaves for the next, and what
 * usage records and explain() read afterwards. One object per request.
 */
export class Check {
  // What usage records and explain() read.
  keyId: string | undefined = undefined
  principal: string | undefined = undefined
  keyFound: boolean | undefined = undefined
  step: VerifyStep | undefined = undefined
  base: string | undefined = undefined
  label: string | undefined = undefined
  // What the steps hand on.
  presignedCfg: PresignedOptions | undefined = undefined
  pre: PresignedView | null = null
  input: IncomingRequest
  maxBodyBytes = 0
  entry: SignatureEntry | undefined = undefined
  digestCovered = false
  nowMs = 0
  key: KeyRecord | undefined = undefined
  problem: ReturnType<typeof keyProblem> = undefined
  macOk = false
  /** The base the MAC was checked over, kept for `debug` only. */
  macBase: string | undefined = undefined
  digestValue: string | null = null
  declared: ReadonlyMap<DigestAlgorithm, Uint8Array> = NO_DIGESTS
  /** The Content-Digest is one canonical member, checked after the read by its text (see checkBody). */
  shaped = false
  sink: BodySink | undefined = undefined
  rateLimit: Verified['rateLimit'] = undefined
  /** Opaque mode: the secret an unusable key is MACed against (see macSecretOf). */
  decoySecret: Uint8Array | undefined = undefined
  /** What the replay step recorded (or the outer record it relied on), for a stacked verifier. */
  replayRecord: ReplayRecord | undefined = undefined
  /** SPEC §8: the body is `aes128gcm` (bodyCoding), and its plaintext once decrypted (decryptBody). */
  encrypted = false
  plaintext: Uint8Array | undefined = undefined
  constructor(
    readonly cfg: VerifierConfig,
    /** What the verifier keeps across requests (the opaque-mode decoy secret). */
    readonly shared: Shared,
    readonly request: IncomingRequest,
    readonly ctx: VerifyContext | undefined,
    /** explain(): check, but record nothing. */
    readonly dryRun: boolean,
  ) {
    this.input = request
  }
}

/** A step returns nothing when it is done, or a promise when it waits for a store or the body. */
export type Step = (c: Check) => undefined | Promise<unknown>

// 1. Parse (after the presigned view and the declared size)
function parse(c: Check): undefined {
  const cfg = c.cfg
  const request = c.request
  // A presigned URL (SPEC §7) only where the integrator allows it; elsewhere its query is a query.
  const presignedCfg = c.ctx?.presigned ?? cfg.presigned
  c.presignedCfg = presignedCfg
  const pre = presignedCfg ? presignedView(request) : null
  c.pre = pre
  const input = pre ? pre.input : request
  c.input = input
  const m = input.message
  const preLimit = pre && presignedCfg ? presignedBodyLimit(pre.bound, presignedCfg, cfg.maxBodyBytes) : undefined
  const maxBodyBytes = preLimit ? preLimit.limit : cfg.maxBodyBytes
  c.maxBodyBytes = maxBodyBytes
  if (input.contentLength !== undefined && input.contentLength > maxBodyBytes) {
    fail('BODY_TOO_LARGE', preLimit ? preLimit.detail : `body exceeds ${maxBodyBytes} bytes`)
  }
  c.step = 'parse'
  const entries = parseSignatures(m.headers.get('signature-input'), m.headers.get('signature'), cfg.signatureLimits)
  const entry = selectSignature(entries, pre ? PRESIGNED_TAG : cfg.tag, REQUEST_REFUSALS)
  c.entry = entry
  c.label = entry.label
  if (c.dryRun) {
    // explain() shows the base even when an earlier step fails (time, key).
    try {
      c.base = signatureBase(m, entry.components, entry.paramsValue)
    } catch {}
  }
  return undefined
}

// 2. Profile
function profile(c: Check): undefined {
  const cfg = c.cfg
  c.step = 'profile'
  const entry = c.entry as SignatureEntry
  const pre = c.pre
  checkProfile(entry, pre ? URL_PROFILE : profileOf(c.shared, cfg), REQUEST_REFUSALS)
  c.keyId = entry.params.keyid
  const components = entry.components
  let digestCovered = false
  if (!pre)
    for (let i = 0; i < components.length && !digestCovered; i++) digestCovered = (components[i] as Component).name === 'content-digest'
  c.digestCovered = digestCovered
  if (!pre && c.input.hasBody && !digestCovered && cfg.digestRequired)
    fail('DIGEST_MISSING', 'a request with a body must cover content-digest')
  return undefined
}

// 3. Time
function time(c: Check): undefined {
  const cfg = c.cfg
  c.step = 'time'
  const p = (c.entry as SignatureEntry).params
  const nowMs = cfg.now()
  c.nowMs = nowMs
  const nowS = nowMs / 1000
  const created = p.created as number
  if (c.pre) {
    // A link lives until `expires`, not ±window: only `created` from the future is skew.
    if (p.expires === undefined) fail('PROFILE_VIOLATION', 'a presigned URL must carry expires')
    const lifetime = (p.expires as number) - created
    if (lifetime < 0) fail('SIGNATURE_MALFORMED', 'expires is before created')
    if (lifetime * 1000 > (c.presignedCfg?.maxLifetimeMs ?? PRESIGNED_MAX_LIFETIME_S * 1000))
      fail('PROFILE_VIOLATION', 'presigned URL lives too long')
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
  return undefined
}

// 4. Key (algorithm comes from the key record, never from the header)
function lookupKey(c: Check): undefined | Promise<unknown> {
  const cfg = c.cfg
  c.step = 'key'
  const keyId = c.keyId as string
  const keys = cfg.keys
  let answer: ReturnType<KeyResolver['get']>
  try {
    // A cache's `lookup` answers a hit synchronously: no promise, no deadline timer.
    answer = keys.lookup ? keys.lookup(keyId) : keys.get(keyId)
  } catch (e) {
    return failStore(cfg, 'key store', e)
  }
  if (isPromise(answer))
    return withDeadline('key store', cfg.storeTimeoutMs, answer).then(
      (key) => {
        c.key = key
      },
      (e) => failStore(cfg, 'key store', e),
    )
  c.key = answer
  return undefined
}

function checkKey(c: Check): undefined {
  const cfg = c.cfg
  const key = c.key
  const found = key !== undefined
  // An unknown key id goes through the same checks as a found key, on a decoy record (secret
  // drawn once per verifier), so opaque mode costs the same either way: one path, no early return.
  const record = found ? key : decoyRecord(c.shared)
  let problem = keyProblem(record, c.nowMs)
  if (!found) problem = 'KEY_UNKNOWN'
  c.problem = problem
  c.keyFound = found
  if (cfg.opaque) macSecretOf(c, found, record.secret)
  // A record whose secret is not >= 32 bytes is never MACed against: fail closed, like a store outage.
  const sk = record.secret
  const short = !(sk instanceof Uint8Array) || sk.length < MIN_SECRET_BYTES
  if (short && !problem)
    failStore(cfg, 'key store', new Error(`key store returned a secret shorter than ${MIN_SECRET_BYTES} bytes for key ${c.keyId}`))
  if (problem && !cfg.opaque) fail(problem, `key is ${problem.slice(4).toLowerCase()}`)
  return undefined
}

/**
 * Opaque mode: the secret an unusable key is MACed against, at the cost a usable one would have.
 * A found key's secret tells whether the store hands out a new array per lookup (see
 * {@link Shared.freshSecrets}); an unknown key id then gets a new copy of the decoy's secret,
 * noted the same way, so both pay the same per-secret HMAC setup and bookkeeping.
 */
function macSecretOf(c: Check, found: boolean, secret: Uint8Array): void {
  const shared = c.shared
  let seen = shared.seen
  if (seen === undefined) {
    seen = new WeakSet()
    shared.seen = seen
  }
  const decoy = decoyRecord(shared).secret
  const mine = found ? secret : shared.freshSecrets ? decoy.slice() : decoy
  if (!(mine instanceof Uint8Array)) return
  const fresh = !seen.has(mine)
  if (fresh) seen.add(mine)
  if (found) shared.freshSecrets = fresh
  // A found key that is unusable is MACed against a decoy copy as new as its own secret.
  c.decoySecret = found ? (fresh ? decoy.slice() : decoy) : mine
}

/** The record an unknown key id is checked and MACed against (opaque mode's decoy). */
function decoyRecord(shared: Shared): KeyRecord {
  let d = shared.decoy
  if (!d) {
    d = {
      keyId: '',
      secret: randomBytes(32),
      principal: '',
      scopes: [],
      status: 'active',
      createdAt: new Date(0),
      algorithm: DEFAULT_ALGORITHM,
    }
    shared.decoy = d
  }
  return d
}

// 5. MAC (in opaque mode an unusable key is MACed against the decoy's secret, so it costs the same)
function mac(c: Check): undefined | Promise<unknown> {
  const cfg = c.cfg
  c.step = 'mac'
  const entry = c.entry as SignatureEntry
  const base = baseOf(c.input.message, entry, REQUEST_REFUSALS)
  // An unusable key (opaque mode) is MACed against the decoy, under the decoy's algorithm.
  const key = c.problem ? undefined : (c.key as KeyRecord)
  const secret = key ? key.secret : (c.decoySecret ?? decoyRecord(c.shared).secret)
  if (cfg.debug) c.macBase = base
  const ok = verifyEntry(algorithmOf(key?.algorithm) as SignatureAlgorithm, cfg.hmac, secret, base, entry)
  if (typeof ok === 'boolean') {
    c.macOk = ok
    return undefined
  }
  return ok.then((v) => {
    c.macOk = v
  })
}

function macVerdict(c: Check): undefined | Promise<never> {
  const cfg = c.cfg
  const problem = c.problem
  // One throw site for an unusable key and a bad MAC, so opaque mode costs the same either way.
  if (problem || !c.macOk) {
    const e = new VerificationError('SIGNATURE_INVALID', c.dryRun && !problem ? macHint(c.input.message, cfg) : 'signature does not verify')
    if (cfg.debug && !problem) Object.defineProperty(e, 'signatureBase', { value: c.macBase, enumerable: false })
    // A found, usable test key (never a live key, never opaque mode's decoy): explain the failure.
    if (!problem && c.keyFound === true && (c.key as KeyRecord).test === true && !c.dryRun) return explainTestKey(c, e)
    throw e
  }
  c.principal = (c.key as KeyRecord).principal
  return undefined
}

/** Attach a {@link TestKeyExplanation} to `e` (reading the body to say whether it matched its digest), then throw it. */
async function explainTestKey(c: Check, e: VerificationError, digestMismatch = false): Promise<never> {
  const m = c.input.message
  const entry = c.entry as SignatureEntry
  let base = ''
  try {
    base = signatureBase(m, entry.components, entry.paramsValue)
  } catch (err) {
    base = `(not rebuilt: ${err instanceof ComponentError ? err.message : 'a component could not be derived'})`
  }
  const origin = authorityOrigin(m, c.cfg)
  const x: TestKeyExplanation = {
    signatureBase: base,
    authority: { value: m.authority, ...origin },
    digest: c.digestCovered ? 'mismatched' : 'not-covered',
    differed: [],
    hint: '',
  }
  if (c.digestCovered) {
    let received: Uint8Array | undefined
    if (digestMismatch && c.sink) received = c.sink.digests().get('sha-256')
    else if (!digestMismatch) {
      // The MAC failed before the body was read: read it now (same size limit and deadline).
      const sink = new BodySink(SHA256_ONLY, c.maxBodyBytes, false, c.input.contentLength)
      try {
        await pump(c, sink)
        received = sink.digests().get('sha-256')
      } catch {}
    }
    if (received) {
      x.receivedDigest = `sha-256=:${toBase64(received)}:`
      if (!digestMismatch) {
        try {
          const declared = parseContentDigest(m.headers.get('content-digest') ?? '')
          const want = declared.get('sha-256')
          x.digest = want !== undefined && toBase64(want) === toBase64(received) ? 'matched' : 'mismatched'
        } catch {}
      }
    }
    if (x.digest === 'mismatched') x.differed.push('content-digest')
  }
  if (origin.untrustedProxyHeader) x.differed.push('@authority')
  x.hint = digestMismatch
    ? 'the body received does not match its Content-Digest: digest the exact bytes you send'
    : x.digest === 'mismatched'
      ? 'the body received does not match its Content-Digest: digest the exact bytes you send, then sign'
      : `rebuild your signature base and compare it line by line with signatureBase (no trailing newline; @authority is ${m.authority}, from ${origin.from}); if they are equal, the secret differs`
  Object.defineProperty(e, 'explanation', { value: x, enumerable: false })
  throw e
}

// 6. Replay, only after the MAC is good. A link is multi-use unless it, or the route, says once.
// Stacked middleware: a nonce an outer verifier recorded for this same request is not counted
// again only when that record covers this verifier's own check (same store instance, kept at
// least as long); a check nobody made, in another store, or kept for less is made here.
function replay(c: Check): undefined | Promise<unknown> {
  const cfg = c.cfg
  c.step = 'replay'
  const p = (c.entry as SignatureEntry).params
  const keyId = c.keyId as string
  const pre = c.pre
  if (p.nonce === undefined || c.dryRun || (pre && !pre.bound.once && !c.presignedCfg?.singleUse)) return undefined
  const created = p.created as number
  // Remember the pair past the last instant at which this signature could still verify: the
  // end of the window around `created`, or `expires` when earlier (SPEC §2.6). The window is the
  // widest of the verifiers sharing this store, so a stacked verifier's record covers the others'.
  const windowS = storeWindowS(cfg.nonceStore, cfg.windowS)
  const lastS = pre ? (p.expires as number) + windowS : p.expires !== undefined ? Math.min(created + windowS, p.expires) : created + windowS
  const ttl = Math.ceil(Math.max(0, lastS * 1000 - c.nowMs)) + TTL_MARGIN_MS
  const untilMs = c.nowMs + ttl
  const prior = c.request.replayChecked
  if (replayCovered(prior, keyId, p.nonce, cfg.nonceStore, untilMs)) {
    c.replayRecord = prior
    return undefined
  }
  c.replayRecord = { keyId, nonce: p.nonce, store: cfg.nonceStore, untilMs }
  let fresh: boolean | Promise<boolean>
  try {
    fresh = cfg.nonceStore.checkAndSet(keyId, p.nonce, ttl, created, windowS)
  } catch (e) {
    return failStore(cfg, 'nonce store', e)
  }
  if (isPromise(fresh))
    return withDeadline('nonce store', cfg.storeTimeoutMs, fresh).then(replayVerdict, (e) => failStore(cfg, 'nonce store', e))
  replayVerdict(fresh)
  return undefined
}

// The widest window of the verifiers built on each nonce store (see registerStoreWindow).
const storeWindows = new WeakMap<object, number>()

/**
 * Note that a verifier with `windowS` records pairs in `store`: every verifier on that store then
 * keeps its pairs as long as the widest of them would, so an outer verifier's record covers a
 * stacked inner one with a wider window instead of the inner one finding the pair and refusing.
 */
export function registerStoreWindow(store: object, windowS: number): void {
  if ((storeWindows.get(store) ?? 0) < windowS) storeWindows.set(store, windowS)
}

function storeWindowS(store: object, own: number): number {
  const widest = storeWindows.get(store)
  return widest !== undefined && widest > own ? widest : own
}

// 7. Body
function readBody(c: Check): undefined | Promise<unknown> {
  const cfg = c.cfg
  c.step = 'body'
  const pre = c.pre
  const input = c.input
  const digestValue = pre ? (pre.bound.contentDigest ?? null) : c.digestCovered ? input.message.headers.get('content-digest') : null
  c.digestValue = digestValue
  // An upload link bound to a size alone is still read, to hold it to that size.
  if (digestValue === null && pre?.bound.maxBytes === undefined) return undefined
  let algorithms = NO_ALGORITHMS
  const shaped = digestValue !== null && !pre ? shapedDigest(digestValue) : undefined
  if (shaped !== undefined) {
    c.shaped = true
    algorithms = shaped
  } else if (digestValue !== null) {
    const declared = parseContentDigest(digestValue)
    if (declared.size === 0) fail('DIGEST_MISSING', 'Content-Digest carries no supported algorithm')
    c.declared = declared
    algorithms = declared.size === 1 ? (declared.has('sha-256') ? SHA256_ONLY : SHA512_ONLY) : [...declared.keys()]
  }
  // An encrypted body is kept to be decrypted once its digest checked out (SPEC §8).
  const sink = new BodySink(algorithms, c.maxBodyBytes, cfg.retainBody || input.retainBody === true || c.encrypted, input.contentLength)
  c.sink = sink
  return pump(c, sink)
}

/** Feed the request's body into `sink` under the body deadline; undefined when it was all there. */
function pump(c: Check, sink: BodySink): undefined | Promise<unknown> {
  const cfg = c.cfg
  const src = c.input.body()
  if (src === null) return undefined
  if (typeof (src as PushBody).feed === 'function') {
    // The read keeps the deadline itself (a timer, no race of promises).
    return (src as PushBody).feed(sink, cfg.bodyTimeoutMs)
  }
  if (typeof (src as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
    // Chunks already in memory: no await per chunk.
    for (const chunk of src as Iterable<Uint8Array>) sink.take(chunk)
    return undefined
  }
  return readBodyWithin(
    cfg.bodyTimeoutMs,
    digestStream(src as AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, {
      algorithms: NO_ALGORITHMS,
      onChunk: (chunk) => sink.take(chunk),
    }),
  )
}

function checkBody(c: Check): undefined | Promise<unknown> {
  const cfg = c.cfg
  const sink = c.sink
  if (sink !== undefined) {
    try {
      if (c.shaped) {
        // What every Sigil client sends: a single-chunk body is checked by comparing the base64 of
        // its digest with the header's text; anything else (several chunks, a non-canonical text, a
        // digest that differs) takes the full parse and check, so the outcome and error are the same.
        const one = sink.single()
        if (one === undefined || contentDigestMatches(c.digestValue as string, one) === undefined) {
          const declared = parseContentDigest(c.digestValue as string)
          c.declared = declared
          checkContentDigest(declared, sink.digests())
        }
      } else if (c.declared.size > 0) checkContentDigest(c.declared as Map<DigestAlgorithm, Uint8Array>, sink.digests())
    } catch (e) {
      if (e instanceof VerificationError && e.code === 'DIGEST_MISMATCH' && c.key?.test === true && !c.dryRun)
        return explainTestKey(c, e, true)
      throw e
    }
  }
  // Body presence is decided by the bytes, not the framing (SPEC §2 step 7): a body the framing
  // did not announce (HTTP/2 DATA, chunked, a Web stream) still needs a covered digest.
  // The same holds for a presigned link that is not an upload link (SPEC §7): a GET, HEAD or
  // DELETE link binds no body, so bytes sent with it are refused rather than handed to the app.
  const pre = c.pre
  const input = c.input
  const unboundBody = pre
    ? !UPLOAD_METHODS.has(input.message.method) &&
      c.digestValue === null &&
      pre.bound.maxBytes === undefined &&
      (input.hasBody || input.mayHaveBody)
    : !c.digestCovered && input.mayHaveBody && cfg.digestRequired
  if (!unboundBody) return undefined
  return readBodyWithin(cfg.bodyTimeoutMs, () => hasAnyByte(input.body())).then((any) => {
    if (any)
      fail(
        'DIGEST_MISSING',
        c.pre ? 'this link is not an upload link: it takes no body' : 'a request with a body must cover content-digest',
      )
  })
}

// 8. Authorize
function authorize(c: Check): undefined | Promise<unknown> {
  const cfg = c.cfg
  c.step = 'authorize'
  const k = c.key as KeyRecord
  const required = cfg.requiredScopes
  for (let i = 0; i < required.length; i++)
    if (!hasScope(k.scopes, required[i] as string)) fail('SCOPE_DENIED', `key lacks scope ${required[i]}`)
  const more = c.ctx?.requiredScopes
  if (more) for (const s of more) if (!hasScope(k.scopes, s)) fail('SCOPE_DENIED', `key lacks scope ${s}`)
  if (k.test === true && (!cfg.testKeys || c.ctx?.testKeys === false)) fail('TEST_KEY_REFUSED', 'test keys are not accepted here')
  const limiter = cfg.rateLimiter
  if (!limiter || c.dryRun) return undefined
  let d: ReturnType<RateLimiter['consume']> | RateLimitDecision
  try {
    d = limiter.consume(k)
  } catch (e) {
    return failStore(cfg, 'rate limiter', e)
  }
  if (isPromise(d))
    return withDeadline('rate limiter', cfg.storeTimeoutMs, d).then(
      (decision) => rateVerdict(c, decision),
      (e) => failStore(cfg, 'rate limiter', e),
    )
  rateVerdict(c, d)
  return undefined
}

/** The steps, in SPEC §2 order. */
const STEPS: readonly Step[] = [
  parse,
  profile,
  time,
  lookupKey,
  checkKey,
  mac,
  macVerdict,
  replay,
  bodyCoding,
  readBody,
  checkBody,
  decryptBody,
  authorize,
]

/** Run the steps from `from` on: synchronously while they answer synchronously. */
export function runSteps(c: Check, from = 0): Verified | Promise<Verified> {
  for (let i = from; i < STEPS.length; i++) {
    const wait = (STEPS[i] as Step)(c)
    if (wait !== undefined) return wait.then(() => runSteps(c, i + 1))
  }
  return result(c)
}

function replayVerdict(fresh: boolean): void {
  if (!fresh) fail('NONCE_REPLAYED', 'nonce was already used with this key')
}

function rateVerdict(c: Check, d: RateLimitDecision): void {
  // A limiter written against the decision's old field names says which ones, once per request.
  if (d.windowMs === undefined && 'windowSeconds' in d)
    throw new ConfigurationError(
      `rate limiter decision: ${renamedMessage('windowSeconds', ['windowMs', 'milliseconds'])}, and \`resetSeconds\` \`resetMs\``,
    )
  if (!d.allowed)
    fail(d.code ?? 'RATE_LIMITED', d.code === 'QUOTA_EXCEEDED' ? 'quota exhausted' : 'rate limit exceeded', rateLimitHeaders(d))
  if (d.limit) c.rateLimit = { limit: d.limit, remaining: d.remaining, resetMs: d.resetMs, windowMs: d.windowMs }
}

/** 9. Result (same keys, same order as ever; optional ones only when set). */
function result(c: Check): Verified {
  const entry = c.entry as SignatureEntry
  const p = entry.params
  const k = c.key as KeyRecord
  const v = { keyId: c.keyId as string, principal: k.principal, scopes: k.scopes, created: p.created as number } as Verified
  if (p.expires !== undefined) v.expires = p.expires
  if (p.nonce !== undefined) v.nonce = p.nonce
  v.label = entry.label
  if (c.pre) v.presigned = true
  if (c.plaintext !== undefined) {
    v.body = c.plaintext
    v.encrypted = true
  } else if (c.sink?.retain) v.body = c.sink.body()
  if (k.metadata) v.metadata = k.metadata
  if (k.test === true) v.test = true
  if (c.rateLimit) v.rateLimit = c.rateLimit
  return attachReplayRecord(v, c.replayRecord)
}
