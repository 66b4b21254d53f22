import { checkOptions, schemaKeys, zodOptionsError } from '@sigil/core/internal'
import {
  array,
  boolean,
  custom,
  minLength,
  object,
  optional,
  strictObject,
  string,
  union,
  enum as zenum,
  instanceof as zinstanceof,
} from 'zod/mini'
import { VERIFY_OPTION_NAMES, VERIFY_RENAMES, type VerifyOptions } from './options.js'
import { type ExemptRule, exemptMatcher } from './route-requirements.js'
import type { SignResponseOptions } from './sign-response.js'
import { createVerifier, type Verifier } from './verifier.js'

/**
 * Options shared by the framework adapters (`@sigil/server/express`, `/fastify`, `/hono`): everything
 * `verify()` takes (where the app lives is `authority`), plus what it leaves open.
 */
export interface SigilOptions extends VerifyOptions {
  /** Routes that skip verification, matched against the raw path (e.g. `['/healthz']`). */
  exempt?: ExemptRule | readonly ExemptRule[]
  /**
   * Sign responses to verified requests (SPEC §5) with the key that signed the request; an object
   * sets tag, label or digest. Default off. Exempt and rejected requests are answered unsigned.
   */
  signResponses?: boolean | Omit<SignResponseOptions, 'verifier'>
}

/** An adapter's compiled configuration: the verifier and the exemption predicate. */
export interface CompiledAdapter {
  verifier: Verifier
  /** Whether a request is exempt; `routed` is the path the framework dispatches on, when it differs in kind. */
  isExempt(method: string, path: string, routed?: string): boolean
  /** Set when responses are signed. */
  signing: SignResponseOptions | undefined
}

const rule = union([string().check(minLength(1)), zinstanceof(RegExp), custom<ExemptRule>((v) => typeof v === 'function')])
const schema = object({
  exempt: optional(union([rule, array(rule)])),
  signResponses: optional(
    union([
      boolean(),
      strictObject({
        tag: optional(string().check(minLength(1))),
        label: optional(string().check(minLength(1))),
        digestAlgorithm: optional(zenum(['sha-256', 'sha-512'])),
        encryptResponses: optional(boolean()),
      }),
    ]),
  ),
})

/** Every option of {@link SigilOptions}: the verifier's and the adapter's own. */
export const ADAPTER_OPTION_NAMES: readonly string[] = [...VERIFY_OPTION_NAMES, ...schemaKeys(schema)]
const ADAPTER_RENAMES = { ...VERIFY_RENAMES, publicAuthority: 'authority' }

/**
 * Validate adapter options once and build the verifier. An unknown option is refused, naming the
 * closest known one; `extra` names the options the calling adapter reads itself (`consumeBody`).
 *
 * @example
 * ```ts
 * const { verifier, isExempt } = compileAdapter({ keys, authority: 'api.example.com', exempt: ['/healthz'] })
 * ```
 */
export function compileAdapter(options: SigilOptions, extra: readonly string[] = []): CompiledAdapter {
  checkOptions('adapter options', options, [...ADAPTER_OPTION_NAMES, ...extra], ADAPTER_RENAMES)
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('adapter options', parsed.error, schema, ADAPTER_RENAMES)
  const { exempt, signResponses, ...verify } = options
  const verifier = createVerifier(verify)
  const signing = signResponses ? { ...(signResponses === true ? {} : signResponses), verifier } : undefined
  return { verifier, isExempt: exemptMatcher(exempt), signing }
}
