import { type Component, ConfigurationError, component, parseToken, type SecretInput, SigilError } from '@sigil/core'
import { secretBytes } from '@sigil/core/internal'
import type { BareItem } from '@sigil/core/structured-fields'
import type { PreparedBody } from './body.js'
import { arrayOf, type Check, checkOptions, fn, int, oneOf, record, renamed, type Shape, str } from './check-options.js'

/**
 * How a client authenticates: a token (`sigil_sk_…`) or a key id and its secret. The secret
 * follows the one rule the server uses (SPEC §4): bytes, canonical base64url/base64, or an
 * explicitly typed `{ hex }` / `{ utf8 }` / `{ base64 }` / `{ base64url }`, at least 32 bytes.
 */
export type Credentials = { token: string } | { keyId: string; secret: SecretInput }

/**
 * Options shared by {@link signRequest}, {@link createSignedFetch} and the undici interceptor.
 */
export type SignerOptions = Credentials & {
  /** Extra covered components (e.g. `['idempotency-key']`), after the defaults. */
  components?: string[]
  /**
   * How long a signature stays valid, in milliseconds: `expires = created + ⌊expiresInMs / 1000⌋`
   * (the wire counts whole seconds). Default 300 000 (5 min); 0 omits `expires`; otherwise 1000 to
   * 86 400 000.
   */
  expiresInMs?: number
  /** Signature `tag`. Default `sigil`. */
  tag?: string
  /** Signature label. Default `sig1`. */
  label?: string
  /** Digest algorithm for `Content-Digest`. Default `sha-256`. */
  digestAlgorithm?: 'sha-256' | 'sha-512'
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number
  /** Extra signature parameters. */
  params?: Record<string, BareItem>
  /**
   * Encrypt request bodies end to end with the key (SPEC §8: RFC 8188 `aes128gcm`, keyed by HKDF
   * from the secret) and ask for encrypted responses (`Sigil-Accept-Encoding: aes128gcm`), which
   * are decrypted as they are read. `Content-Digest` covers the encrypted bytes; the signature also
   * covers `content-encoding` and `sigil-accept-encoding`. Pass `bodyEncryption()` from
   * `@sigil/client/encrypted` (a separate entry, so apps that do not encrypt do not ship the
   * cipher). Default off.
   */
  encryptBody?: BodyEncryption | false
}

/**
 * Encrypts request bodies and decrypts answers (SPEC §8): made by `bodyEncryption()` from
 * `@sigil/client/encrypted`, the only place the cipher is loaded from.
 */
export interface BodyEncryption {
  /** @internal A prepared request body, encrypted (streaming where it streams). */
  encryptPrepared(p: PreparedBody, s: ResolvedSigner, signal: AbortSignal | undefined): Promise<PreparedBody>
  /** @internal Whole body bytes, encrypted. */
  encryptBodyBytes(bytes: Uint8Array, s: ResolvedSigner): Promise<Uint8Array>
  /** @internal An encrypted answer, decrypted as it is read. */
  decryptResponse(res: Response, s: ResolvedSigner): Promise<Response>
}

/** `encryptBody` takes what `bodyEncryption()` makes; `true` (what it took before) says how to get one. */
const encryptionCheck: Check = (v, f) =>
  v === false || (typeof v === 'object' && v !== null && typeof (v as BodyEncryption).encryptPrepared === 'function')
    ? undefined
    : [
        f,
        "expected bodyEncryption(): import { bodyEncryption } from '@sigil/client/encrypted' and pass encryptBody: bodyEncryption() (a separate entry, so apps that do not encrypt do not ship the cipher)",
      ]

/** The options every signer takes (SPEC §1), with their checks; entry points add their own. */
export const SIGNER_SHAPE: Shape = {
  token: str(),
  keyId: str(),
  secret: null,
  components: arrayOf(str({ min: 1 })),
  expiresInMs: int(0, 86_400_000, (ms) =>
    ms === 0 || ms >= 1000 ? undefined : 'is 0 (no expires) or at least 1000: the wire counts whole seconds',
  ),
  expiresIn: renamed('expiresInMs', 'milliseconds'),
  tag: str({ min: 1, max: 64 }),
  label: str({ pattern: /^[a-z*][a-z0-9_.*-]{0,63}$/ }),
  digestAlgorithm: oneOf(['sha-256', 'sha-512']),
  now: fn,
  params: record,
  encryptBody: encryptionCheck,
}

/** A validated, ready-to-use signer configuration (validated once, reused on every request). */
export interface ResolvedSigner {
  keyId: string
  secret: Uint8Array
  extra: Component[]
  /** Milliseconds, or undefined for no `expires`. */
  expiresInMs: number | undefined
  tag: string
  label: string
  digestAlgorithm: 'sha-256' | 'sha-512'
  now: () => number
  params: Record<string, BareItem> | undefined
  /** Added to `now()`; learnt from a server's `Date` on CLOCK_SKEW. */
  clockOffsetMs: number
  /** SPEC §8: bodies encrypted, encrypted responses asked for. */
  encryptBody: BodyEncryption | undefined
  /** With `encryptBody`: what every request covers besides `extra` (bodyless / with a body). */
  encrypted?: { bodyless: Component[]; withBody: Component[] }
}

function parseComponent(name: string): Component {
  // Accept `name` or `name;param` shorthand for the common flags.
  const [base, ...flags] = name.split(';')
  const params: Record<string, BareItem> = {}
  for (const f of flags) {
    const [k, v] = f.split('=')
    params[k as string] = v === undefined ? true : v.replace(/^"|"$/g, '')
  }
  return component((base as string).toLowerCase(), params)
}

const resolved = new WeakMap<object, ResolvedSigner>()

/** Validate signer options once; later calls with the same object reuse the result. */
export function resolveSigner(options: SignerOptions): ResolvedSigner {
  return resolveSignerWith(options, undefined)
}

/**
 * {@link resolveSigner} for an entry point: with `shape` (its own options added to
 * {@link SIGNER_SHAPE}), a key it does not know is refused, naming the closest known one; without,
 * other keys are left alone (the object may carry options meant for the caller).
 */
export function resolveSignerWith(options: SignerOptions, shape: Shape | undefined): ResolvedSigner {
  const hit = resolved.get(options)
  if (hit) return hit
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError(
      `invalid signer options: (options): Invalid input: expected object, received ${options === null ? 'null' : typeof options}`,
    )
  }
  checkOptions('signer options', options, shape ?? SIGNER_SHAPE, shape !== undefined)
  const o = options as SignerOptions & { token?: string; keyId?: string; secret?: SecretInput }
  let keyId: string
  let secret: Uint8Array
  try {
    if (o.token !== undefined) {
      ;({ keyId, secret } = parseToken(o.token))
    } else {
      if (!o.keyId) throw new ConfigurationError('pass either token or keyId and secret')
      keyId = o.keyId
      secret = secretBytes(o.secret, o.keyId)
    }
  } catch (e) {
    if (e instanceof SigilError) throw e
    throw new ConfigurationError('invalid credentials')
  }
  if (secret.length < 32) throw new ConfigurationError('secret must be at least 32 bytes (SPEC §4)')
  const r: ResolvedSigner = {
    keyId,
    secret,
    extra: (o.components ?? []).map(parseComponent),
    expiresInMs: o.expiresInMs === 0 ? undefined : (o.expiresInMs ?? 300_000),
    tag: o.tag ?? 'sigil',
    label: o.label ?? 'sig1',
    digestAlgorithm: o.digestAlgorithm ?? 'sha-256',
    now: (o.now as (() => number) | undefined) ?? Date.now,
    params: o.params as Record<string, BareItem> | undefined,
    clockOffsetMs: 0,
    encryptBody: (o.encryptBody as BodyEncryption | false | undefined) || undefined,
  }
  if (r.encryptBody) {
    // The request for an encrypted answer and the body's coding are signed (SPEC §8).
    const add = (list: Component[], more: string[]) => [
      ...list,
      ...more.map((n) => component(n)).filter((c) => !list.some((e) => e.id === c.id)),
    ]
    r.encrypted = {
      bodyless: add(r.extra, ['sigil-accept-encoding']),
      withBody: add(r.extra, ['content-encoding', 'sigil-accept-encoding']),
    }
  }
  resolved.set(options, r)
  return r
}
