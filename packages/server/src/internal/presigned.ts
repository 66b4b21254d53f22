import { VerificationError } from '@sigil/core'
import { type HeaderSource, type PresignedQuery, splitPresignedQuery } from '@sigil/core/internal'
import type { IncomingRequest } from './incoming.js'

/** Where presigned URLs are accepted, and how (`presigned` option of `verify()` and every adapter). */
export interface PresignedOptions {
  /**
   * Longest lifetime (`expires - created`) accepted, in milliseconds, counted in whole seconds.
   * Default and ceiling 604 800 000 (7 days).
   */
  maxLifetimeMs?: number
  /** Record every link's nonce, so each works once, even when the signer did not ask. Default false. */
  singleUse?: boolean
  /**
   * Largest body a presigned request may carry, in bytes: a link's own bound (`maxBytes`,
   * `sigil-max-bytes`) is admitted up to this ceiling. Default: the verifier's `maxBodyBytes`
   * (1 MiB). Set it on an upload route to what its links may allow, e.g. `100_000_000`.
   */
  maxBodyBytes?: number
}

/**
 * The body limit of a presigned request: the link's bound under the route's ceiling, and the
 * problem detail that says which option to raise when the ceiling is what refused it (a 10 MB
 * link on a route left at 1 MiB would otherwise be told only "body exceeds 1048576 bytes").
 */
export function presignedBodyLimit(
  bound: { maxBytes?: number | undefined },
  options: PresignedOptions,
  maxBodyBytes: number,
): { limit: number; detail: string } {
  const ceiling = options.maxBodyBytes ?? maxBodyBytes
  const link = bound.maxBytes
  if (link !== undefined && link <= ceiling) return { limit: link, detail: `body exceeds ${link} bytes, the link's bound` }
  const which = options.maxBodyBytes !== undefined ? 'presigned.maxBodyBytes' : 'maxBodyBytes (raise presigned.maxBodyBytes for uploads)'
  const allows = link !== undefined ? `; the link allows ${link}` : ''
  return { limit: ceiling, detail: `body exceeds ${ceiling} bytes, the route's ${which}${allows}` }
}

/** A presigned request turned into the view the verifier checks, with what the signer bound. */
export interface PresignedView {
  input: IncomingRequest
  bound: PresignedQuery
}

function overlay(headers: HeaderSource, q: PresignedQuery): HeaderSource {
  const pick = (name: string): string | null => {
    const n = name.toLowerCase()
    if (n === 'signature-input') return q.signatureInput
    if (n === 'signature') return q.signature
    return null
  }
  const view: HeaderSource = {
    get: (name) => pick(name) ?? headers.get(name),
  }
  if (headers.getAll) {
    const all = headers.getAll.bind(headers)
    view.getAll = (name) => {
      const v = pick(name)
      return v === null ? all(name) : [v]
    }
  }
  return view
}

/**
 * The verifier's view of a presigned request (SPEC §7), or `null` when its query carries no
 * signature. The covered `@query` is the query without `sigil-input` and `sigil`; a `HEAD` is
 * checked as the `GET` its link was signed for. A request carrying both a URL signature and
 * signature headers is malformed: which one counts must never depend on the reader.
 */
export function presignedView(input: IncomingRequest): PresignedView | null {
  const m = input.message
  const bound = splitPresignedQuery(m.query)
  if (bound === null) return null
  if (m.headers.get('signature-input') !== null || m.headers.get('signature') !== null) {
    throw new VerificationError('SIGNATURE_MALFORMED', 'a request carries either a URL signature or signature headers, not both')
  }
  const message = {
    method: m.method === 'HEAD' ? 'GET' : m.method,
    scheme: m.scheme,
    authority: m.authority,
    path: m.path,
    query: bound.baseQuery,
    headers: overlay(m.headers, bound),
  }
  // Field by field, not a spread: an adapter's request may be a class whose methods (body()) and
  // getters live on its prototype.
  const view: IncomingRequest = { message, hasBody: input.hasBody, body: () => input.body() }
  if (input.mayHaveBody !== undefined) view.mayHaveBody = input.mayHaveBody
  if (input.contentLength !== undefined) view.contentLength = input.contentLength
  if (input.replayChecked !== undefined) view.replayChecked = input.replayChecked
  if (input.address !== undefined) view.address = input.address
  if (input.retainBody !== undefined) view.retainBody = input.retainBody
  return { input: view, bound }
}
