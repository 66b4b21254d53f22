import {
  ConfigurationError,
  component,
  DEFAULT_COMPONENTS,
  DEFAULT_SIGNATURE_LIMITS,
  type Hmac,
  type KeyResolver,
  type NonceStore,
  type SignatureLimits,
} from '@sigil/core'
import {
  hmacSha256,
  optionsError,
  PRESIGNED_MAX_LIFETIME_S,
  PRESIGNED_TAG,
  type Renames,
  schemaKeys,
  zodOptionsError,
} from '@sigil/core/internal'
import {
  array,
  boolean,
  custom,
  gte,
  int,
  literal,
  lte,
  maxLength,
  minLength,
  optional,
  partial,
  record,
  refine,
  strictObject,
  string,
  union,
  unknown,
  enum as zenum,
} from 'zod/mini'
import { inClusterWorker } from './cluster-worker.js'
import type { EncryptedBodies } from './encrypted-body.js'
import { defaultNonceStore } from './memory-nonce-store.js'
import type { PresignedOptions } from './presigned.js'
import type { RateLimiter } from './rate-limiter.js'
import { type SecretInput, staticKeys } from './static-keys.js'
import type { VerificationTelemetry } from './telemetry.js'
import type { UsageRecorder } from './usage.js'

/**
 * Options of `verify()` / {@link createVerifier}. Validated once, at construction; the hot path
 * never runs the validator.
 */
export interface VerifyOptions {
  /**
   * `{ keyId: secret }` or any key store with `get(keyId)` (e.g. `@sigil/keys`). A record is read
   * live (deleting an entry revokes the key on the next request; see `staticKeys`). Each secret
   * must be >= 32 bytes in one of the `SecretInput` forms, or options are refused with a
   * `ConfigurationError` naming the key id, never the secret.
   */
  keys: Record<string, SecretInput | undefined> | KeyResolver
  /**
   * Replay store. Default: ONE in-memory store per process, shared by every verifier that is not
   * given a store (pairs are keyed by key id), so `verify(request, { keys })` with a fresh options
   * object per call still refuses a replay. It protects one process only: with several processes
   * or instances (node:cluster, serverless, Workers isolates) pass `@sigil/redis`'s store.
   */
  nonceStore?: NonceStore
  /**
   * Allowed clock difference, both ways, in milliseconds, counted in whole seconds (the wire's
   * unit: 1500 is 1 s). Default 300 000 (5 min); 1000 to 3 600 000.
   */
  windowMs?: number
  /** Signature tag to select. Default `sigil`; `false` accepts a single untagged signature (as `tag: false` signs one). */
  tag?: string | false
  /**
   * `sigil` (SPEC §2) or `rfc9421`: nonce and tag optional, for plain RFC 9421 signers. `rfc9421`
   * still requires `@method @authority @path`, and `content-digest` when the request has a body,
   * unless `requiredComponents` is given, which then replaces that floor. A nonce-less signature
   * is not recorded, so it can be replayed for as long as it is within its time window.
   */
  profile?: 'sigil' | 'rfc9421'
  /**
   * The authority clients sign (`api.example.com`), used instead of the Host header when a proxy
   * or load balancer changes the Host the app sees. Forwarding headers stay untrusted unless
   * `trustProxy` is set.
   */
  authority?: string
  /** Public scheme when it differs from the connection's. */
  scheme?: 'http' | 'https'
  /**
   * Trust `Forwarded` / `X-Forwarded-Host` / `X-Forwarded-Proto` from this many proxies in front
   * of the app (`true` = 1): the value the nearest trusted hops appended counts, never one the
   * client wrote before them (Express `trust proxy` hop count). Default false.
   */
  trustProxy?: boolean | number
  /**
   * Components every signature must cover: on top of the `sigil` profile's; under `rfc9421` this
   * replaces the floor (`@method @authority @path`, and `content-digest` with a body).
   */
  requiredComponents?: string[]
  /** Scopes every request must hold (per-route scopes are added by adapters). */
  requiredScopes?: string[]
  /** Largest body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number
  /** Keep the verified body bytes on the result (default true); false digests in constant memory. */
  retainBody?: boolean
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number
  /** Unknown, revoked and expired keys look (and cost) the same as a bad MAC. Default false. */
  opaque?: boolean
  /** Put the server's signature base in problem bodies. Refused when NODE_ENV=production. */
  debug?: boolean
  /**
   * Accept test keys (SPEC §4: token `sigil_tk_…`, `KeyRecord.test`). Default true; false refuses
   * them with 403 `TEST_KEY_REFUSED` once their signature checked out (a route can say the same
   * with the adapter's per-route `testKeys: false`). `verified.test` tells the app either way.
   */
  testKeys?: boolean
  /** Parser limits on `Signature` / `Signature-Input` (sizes and counts). Default `DEFAULT_SIGNATURE_LIMITS`. */
  signatureLimits?: Partial<SignatureLimits>
  rateLimiter?: RateLimiter
  usage?: UsageRecorder
  /**
   * Told the outcome of every verification (result code, key class, method, route, duration; no
   * key id, secret, signature or header value): `sigilTelemetry()` from `@sigil/server/otel`
   * turns it into OpenTelemetry metrics and spans. Default none, at no cost.
   */
  telemetry?: VerificationTelemetry
  /** How long a key, nonce or limit store may take before the request fails with 503. Default 2000 ms. */
  storeTimeoutMs?: number
  /**
   * How long the body may take to arrive, once the signature checked out, before the request is
   * answered 408 `BODY_TIMEOUT` (a slow-drip client holds no worker past it). Default 30000 ms.
   */
  bodyTimeoutMs?: number
  /** HMAC implementation (default: node:crypto on Node, WebCrypto elsewhere). */
  hmac?: Hmac
  /**
   * Where internal failures are told (a store error's cause, a decrypt failure, a bug): the caller
   * gets a generic problem with a correlation id, this hook gets the error and the same id.
   * Default: `console.error` of the error's name and message chain (never secrets: Sigil's
   * messages carry none).
   */
  onError?: (error: unknown, info: { correlationId: string }) => void
  /**
   * Accept presigned URLs (SPEC §7) from `presignUrl()` / `sigil presign`. Default false: a query
   * signature is ignored and the request is `SIGNATURE_MISSING`. Enable it only on the routes that
   * serve links (a separate `sigil()` there, with those paths exempt from the app-wide one).
   */
  presigned?: boolean | PresignedOptions
  /**
   * Bodies encrypted with the key (SPEC §8, RFC 8188 `aes128gcm`). Default off: a Content-Encoding
   * is left to the app as before. `'allowed'`: an `aes128gcm` body is decrypted after its digest
   * checked out, and `verified.body` (and the adapters' body parsers) get the plaintext.
   * `'required'`: a body that is not `aes128gcm` is refused, 415 `ENCRYPTION_REQUIRED`. A route
   * can say the same for itself (the verify context). With `verify(request)` the app reads
   * `verified.body`: the `Request`'s own body is still the ciphertext (the adapters hand their
   * parsers, and msw's resolver, the plaintext).
   */
  encryptedBodies?: EncryptedBodies
}

// zod/mini with named imports: edge bundles of verify() carry only the validators used here.
const fn = custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function')
const withMethod = (m: string) =>
  custom<object>((v) => typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[m] === 'function', `must have ${m}()`)
const intIn = (min: number, max?: number) => (max === undefined ? int().check(gte(min)) : int().check(gte(min), lte(max)))
const text = (min: number, max?: number) =>
  max === undefined ? string().check(minLength(min)) : string().check(minLength(min), maxLength(max))

/** Options renamed in the last release: refused with a message naming the successor. */
export const VERIFY_RENAMES: Renames = {
  window: ['windowMs', 'milliseconds'],
  limits: 'signatureLimits',
  maxLifetime: ['maxLifetimeMs', 'milliseconds'],
}

// Strict at every level: an unknown option is refused (a misspelling must not mean less than it says).
const schema = strictObject({
  // Secrets are checked by staticKeys, whose errors name the key id and the accepted forms.
  keys: union([withMethod('get'), record(string(), unknown())]),
  nonceStore: optional(withMethod('checkAndSet')),
  windowMs: optional(intIn(1000, 3_600_000)),
  tag: optional(union([literal(false), text(1, 64).check(refine((t) => t !== PRESIGNED_TAG, 'sigil-url is the presigned-URL tag'))])),
  profile: optional(zenum(['sigil', 'rfc9421'])),
  authority: optional(text(1, 255)),
  scheme: optional(zenum(['http', 'https'])),
  trustProxy: optional(union([boolean(), intIn(0, 32)])),
  requiredComponents: optional(array(text(1))),
  requiredScopes: optional(array(text(1))),
  maxBodyBytes: optional(intIn(0)),
  retainBody: optional(boolean()),
  now: optional(fn),
  opaque: optional(boolean()),
  debug: optional(boolean()),
  testKeys: optional(boolean()),
  signatureLimits: optional(
    partial(
      strictObject({
        maxHeaderBytes: intIn(64, 1 << 20),
        maxSignatures: intIn(1, 64),
        maxComponents: intIn(1, 256),
        maxParamLength: intIn(16, 4096),
      }),
    ),
  ),
  rateLimiter: optional(withMethod('consume')),
  usage: optional(withMethod('record')),
  telemetry: optional(withMethod('record')),
  storeTimeoutMs: optional(intIn(1)),
  bodyTimeoutMs: optional(intIn(1)),
  hmac: optional(withMethod('verify')),
  onError: optional(fn),
  encryptedBodies: optional(zenum(['required', 'allowed'])),
  presigned: optional(
    union([
      boolean(),
      strictObject({
        maxLifetimeMs: optional(intIn(1000, PRESIGNED_MAX_LIFETIME_S * 1000)),
        singleUse: optional(boolean()),
        maxBodyBytes: optional(intIn(0)),
      }),
    ]),
  ),
})

const ADAPTER_ONLY = ['exempt', 'signResponses']

/** Every option {@link VerifyOptions} has, read from the schema (adapters add theirs to it). */
export const VERIFY_OPTION_NAMES: readonly string[] = schemaKeys(schema)

/** The validated configuration a verifier runs on. */
export interface VerifierConfig {
  keys: KeyResolver
  nonceStore: NonceStore
  /** `windowMs` in whole seconds, the unit `created` is compared in. */
  windowS: number
  tag: string | null
  profile: 'sigil' | 'rfc9421'
  authority: string | undefined
  scheme: 'http' | 'https' | undefined
  trustProxy: boolean | number
  required: string[]
  requiredScopes: string[]
  maxBodyBytes: number
  retainBody: boolean
  now: () => number
  opaque: boolean
  debug: boolean
  testKeys: boolean
  signatureLimits: SignatureLimits
  rateLimiter: RateLimiter | undefined
  usage: UsageRecorder | undefined
  telemetry: VerificationTelemetry | undefined
  storeTimeoutMs: number
  bodyTimeoutMs: number
  hmac: Hmac
  onError: ((error: unknown, info: { correlationId: string }) => void) | undefined
  /** Under `rfc9421`: a request with a body must cover `content-digest` (the floor, unless lowered). */
  digestRequired: boolean
  /** Whether the nonce store is the shared per-process default. */
  defaultNonceStore: boolean
  /** Presigned URLs accepted (SPEC §7), or undefined when they are not. */
  presigned: PresignedOptions | undefined
  /** SPEC §8, or undefined when off. */
  encryptedBodies: EncryptedBodies | undefined
}

// The sigil profile requires what a bodyless request covers by default (SPEC §1); rfc9421's floor
// is the same less @query.
const SIGIL_REQUIRED = DEFAULT_COMPONENTS.bodyless.map((c) => c.name)
const RFC9421_FLOOR = SIGIL_REQUIRED.filter((n) => n !== '@query')

let warned = false

/**
 * The default memory store only protects one process. Say so once when that is likely to matter:
 * a node:cluster worker (asked of the cluster module: Node removes NODE_UNIQUE_ID before user
 * code runs) or NODE_ENV=production.
 */
function warnPerProcess(env: Record<string, string | undefined> | undefined): void {
  if (warned || !env || (env.NODE_ENV !== 'production' && env.NODE_UNIQUE_ID === undefined && !inClusterWorker())) return
  const p = (globalThis as { process?: { emitWarning?: (m: string, o: { code: string; type: string }) => void } }).process
  if (typeof p?.emitWarning !== 'function') return
  warned = true
  p.emitWarning(
    'Sigil is using its default in-memory nonce store: replay protection covers this process only. ' +
      'With several processes or instances, pass a shared store, e.g. createRedisNonceStore from @sigil/redis.',
    { code: 'SIGIL_MEMORY_NONCE_STORE', type: 'SigilWarning' },
  )
}

/** Validate options into a {@link VerifierConfig}; throws `ConfigurationError` with the zod issues as cause. */
export function compileOptions(options: VerifyOptions): VerifierConfig {
  // "No tag" is `false` on both sides now (signing always said `false`).
  if ((options as { tag?: unknown } | undefined)?.tag === null)
    throw optionsError('verify options', 'tag', '`null` was renamed `false` (no tag)')
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    // An adapter's option given to the verifier (withSigil's first argument, verify()) says where it goes.
    const misplaced = ADAPTER_ONLY.find((k) => Object.hasOwn(options ?? {}, k))
    if (misplaced)
      throw optionsError(
        'verify options',
        misplaced,
        `an adapter option: pass it to sigil(), or as withSigil(options, handler, { ${misplaced} })`,
      )
    throw zodOptionsError('verify options', parsed.error, schema, VERIFY_RENAMES)
  }
  const o = options
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  if (o.debug && env?.NODE_ENV === 'production') throw new ConfigurationError('debug is refused when NODE_ENV=production')
  const profile = o.profile ?? 'sigil'
  // rfc9421 keeps a floor unless the integrator lowers it by naming the components explicitly.
  const floor = profile === 'sigil' ? SIGIL_REQUIRED : o.requiredComponents ? [] : RFC9421_FLOOR
  const required = [...floor, ...(o.requiredComponents ?? [])].map((c) => component(c).id)
  if (!o.nonceStore) warnPerProcess(env)
  const isResolver = typeof (o.keys as KeyResolver).get === 'function'
  return {
    keys: isResolver ? (o.keys as KeyResolver) : staticKeys(o.keys as Record<string, SecretInput | undefined>),
    nonceStore: o.nonceStore ?? defaultNonceStore(),
    windowS: Math.floor((o.windowMs ?? 300_000) / 1000),
    tag: o.tag === undefined ? (profile === 'sigil' ? 'sigil' : null) : o.tag === false ? null : o.tag,
    profile,
    authority: o.authority?.toLowerCase(),
    scheme: o.scheme,
    trustProxy: o.trustProxy ?? false,
    required: [...new Set(required)],
    requiredScopes: o.requiredScopes ?? [],
    maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
    retainBody: o.retainBody ?? true,
    now: o.now ?? Date.now,
    opaque: o.opaque ?? false,
    debug: o.debug ?? false,
    testKeys: o.testKeys ?? true,
    signatureLimits: { ...DEFAULT_SIGNATURE_LIMITS, ...o.signatureLimits },
    rateLimiter: o.rateLimiter,
    usage: o.usage,
    telemetry: o.telemetry,
    storeTimeoutMs: o.storeTimeoutMs ?? 2000,
    bodyTimeoutMs: o.bodyTimeoutMs ?? 30_000,
    hmac: o.hmac ?? hmacSha256,
    onError: o.onError,
    digestRequired: profile === 'sigil' || !o.requiredComponents,
    defaultNonceStore: !o.nonceStore,
    presigned: o.presigned === true ? {} : o.presigned || undefined,
    encryptedBodies: o.encryptedBodies,
  }
}
