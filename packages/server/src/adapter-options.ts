import { ConfigurationError } from '@sigil/core'
import { z } from 'zod'
import type { VerifyOptions } from './options.js'
import { type ExemptRule, exemptMatcher } from './route-requirements.js'
import { createVerifier, type Verifier } from './verifier.js'

/**
 * Options shared by the framework adapters (`@sigil/server/express`, `/fastify`, `/hono`,
 * `/node`): everything `verify()` takes, plus where the app lives and what it leaves open.
 */
export interface SigilOptions extends VerifyOptions {
  /**
   * The authority clients sign (`api.example.com`), when a proxy or load balancer changes the
   * Host the app sees. Same as the verifier's `authority`; forwarding headers stay untrusted
   * unless `trustProxy` is set.
   */
  publicAuthority?: string
  /** Routes that skip verification, matched against the raw path (e.g. `['/healthz']`). */
  exempt?: ExemptRule | readonly ExemptRule[]
}

/** An adapter's compiled configuration: the verifier and the exemption predicate. */
export interface CompiledAdapter {
  verifier: Verifier
  isExempt(method: string, path: string): boolean
}

const rule = z.union([z.string().min(1), z.instanceof(RegExp), z.custom<ExemptRule>((v) => typeof v === 'function')])
const schema = z.object({
  publicAuthority: z.string().min(1).max(255).optional(),
  exempt: z.union([rule, z.array(rule)]).optional(),
})

/**
 * Validate adapter options once and build the verifier. `publicAuthority` becomes the verifier's
 * `authority`; giving both with different values is a configuration error.
 *
 * @example
 * ```ts
 * const { verifier, isExempt } = compileAdapter({ keys, publicAuthority: 'api.example.com', exempt: ['/healthz'] })
 * ```
 */
export function compileAdapter(options: SigilOptions): CompiledAdapter {
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw new ConfigurationError('invalid adapter options', { cause: parsed.error })
  const { publicAuthority, exempt, ...verify } = options
  if (publicAuthority !== undefined && verify.authority !== undefined && publicAuthority.toLowerCase() !== verify.authority.toLowerCase()) {
    throw new ConfigurationError('publicAuthority and authority disagree: set one')
  }
  const verifier = createVerifier(publicAuthority !== undefined ? { ...verify, authority: publicAuthority } : verify)
  return { verifier, isExempt: exemptMatcher(exempt) }
}
