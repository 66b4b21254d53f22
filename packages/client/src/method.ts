const NORMALIZED = /^(?:delete|get|head|options|post|put)$/i

/**
 * The method as it goes on the wire. Fetch upper-cases the six standard methods in any letter case
 * (Fetch "normalize a method") and sends every other token byte for byte (`patch` stays `patch`);
 * every Sigil entry point normalizes the same way before signing `@method`, and the undici
 * interceptor also dispatches the normalized method, so the signature and the request line agree.
 *
 * @example
 * ```ts
 * wireMethod('post') // 'POST'
 * wireMethod('patch') // 'patch' (write PATCH: most servers refuse lower-case methods)
 * ```
 */
export function wireMethod(method: string): string {
  return NORMALIZED.test(method) ? method.toUpperCase() : method
}
