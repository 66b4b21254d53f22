/** How the signed fetch treats redirects when asked to follow them. */
export interface RedirectPolicy {
  /**
   * Redirects to another origin. `false` (default): not followed, the 3xx comes back to the caller.
   * `true`: followed *unsigned* — no `Signature`/`Signature-Input` leaves the original origin.
   * `'sign'`: followed and signed afresh for the new origin (curl's `--location-trusted`): a
   * signature bound to that origin, which any server holding your key accepts — only for origins
   * you trust with it.
   */
  crossOrigin?: boolean | 'sign'
  /** Most hops to follow (fetch's limit). Default 20. */
  maxRedirects?: number
}

const REDIRECT = new Set([301, 302, 303, 307, 308])

/** One hop of a redirect chain: where to go and what to send there. */
export interface Hop {
  url: string
  method: string
  /** False when the redirect turns the request into a body-less GET (301/302 after POST, 303). */
  keepBody: boolean
}

/**
 * The next hop for a response, following Fetch's "HTTP-redirect fetch" rules for the method and
 * body; `undefined` when the response is not a redirect the caller asked us to follow.
 */
export function nextHop(res: Response, url: string, method: string): Hop | undefined {
  if (!REDIRECT.has(res.status)) return undefined
  const location = res.headers.get('location')
  if (location === null) return undefined
  let next: URL
  try {
    next = new URL(location, url)
  } catch {
    throw new TypeError('redirect Location is not a URL')
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TypeError('redirect to a non-HTTP(S) URL')
  const toGet = (res.status === 303 && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')
  return { url: next.href, method: toGet ? 'GET' : method, keepBody: !toGet }
}

/** Headers Fetch drops when a redirect turns the request into a body-less GET. */
export const REQUEST_BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-digest']
