import { ResponseVerificationError, SigilError } from '@sigil/core'
import { concatBytes, type HeaderSource, headersFromRecord } from '@sigil/core/internal'
import type { Dispatcher } from 'undici'

type Controller = Dispatcher.DispatchController
type RawHeaders = Record<string, string | string[] | undefined>

/** Checks one response: status and headers as received, and its content as sent (still coded). */
export type ResponseCheck = (status: number, headers: HeaderSource, body: Uint8Array) => Promise<void>

/**
 * Holds a response back until it is verified: buffers the body as it arrives off the socket —
 * *before* any decoding (fetch and the decompress interceptor decode above the dispatcher), so the
 * digest is over the bytes the server signed — then either replays it to the caller's handler or
 * fails it with the `ResponseVerificationError`. Over `maxBodyBytes` aborts with
 * `RESPONSE_TOO_LARGE`.
 */
export class VerifyingHandler implements Dispatcher.DispatchHandler {
  #handler: Dispatcher.DispatchHandler
  #check: ResponseCheck
  #max: number
  #head: { status: number; headers: RawHeaders; message: string } | undefined
  #chunks: Uint8Array[] = []
  #size = 0

  constructor(handler: Dispatcher.DispatchHandler, check: ResponseCheck, maxBodyBytes: number) {
    this.#handler = handler
    this.#check = check
    this.#max = maxBodyBytes
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#head = undefined
    this.#chunks = []
    this.#size = 0
    this.#handler.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(controller: Controller, status: number, headers: RawHeaders, socket: unknown): void {
    ;(this.#handler.onRequestUpgrade as ((...a: unknown[]) => void) | undefined)?.(controller, status, headers, socket)
  }

  onResponseStart(_controller: Controller, status: number, headers: RawHeaders, message: string): void {
    this.#head = { status, headers, message }
  }

  onResponseData(controller: Controller, chunk: Uint8Array): void {
    this.#size += chunk.byteLength
    if (this.#size > this.#max) {
      controller.abort(
        new ResponseVerificationError('RESPONSE_TOO_LARGE', `response body is larger than maxBodyBytes (${this.#max}): not verified`),
      )
      return
    }
    this.#chunks.push(chunk)
  }

  onResponseEnd(controller: Controller, trailers: RawHeaders): void {
    const head = this.#head
    if (!head) return
    const body = concatBytes(this.#chunks, this.#size)
    this.#check(head.status, headersFromRecord(head.headers), body).then(
      () => {
        const h = this.#handler as Dispatcher.DispatchHandler & Record<string, (...a: unknown[]) => void>
        try {
          h.onResponseStart?.(controller, head.status, head.headers, head.message)
          if (body.byteLength) h.onResponseData?.(controller, Buffer.from(body.buffer, body.byteOffset, body.byteLength))
          h.onResponseEnd?.(controller, trailers)
        } catch (e) {
          // What undici does when a handler throws (a retry handler throws to ask for a retry).
          this.onResponseError(controller, e as Error)
        }
      },
      (e: Error) => this.onResponseError(controller, e),
    )
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#handler.onResponseError?.(controller, error)
  }
}

/**
 * Refuses a request that undici's redirect interceptor re-dispatches *beneath* the signer
 * (`compose(redirect(), signing)`): that hop carries the headers signed for the first target, to a
 * new path or origin. It is aborted before a byte is written (`onRequestStart` runs before the
 * request goes out), so a signature never follows a redirect; compose the redirect interceptor
 * after the signer instead, and every hop is signed for where it goes.
 */
export class RedirectGuardHandler implements Dispatcher.DispatchHandler {
  #handler: Dispatcher.DispatchHandler
  constructor(handler: Dispatcher.DispatchHandler) {
    this.#handler = handler
  }
  onRequestStart(controller: Controller, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context)
    const history = (context as { history?: unknown[] } | undefined)?.history
    if (Array.isArray(history) && history.length > 0) {
      controller.abort(
        new SigilError(
          'CONFIGURATION_INVALID',
          "a redirect was followed beneath the signing interceptor with the first request's signature: compose interceptors.redirect() after createSigningInterceptor",
        ),
      )
    }
  }
  onRequestUpgrade(controller: Controller, status: number, headers: RawHeaders, socket: unknown): void {
    ;(this.#handler.onRequestUpgrade as ((...a: unknown[]) => void) | undefined)?.(controller, status, headers, socket)
  }
  onResponseStart(controller: Controller, status: number, headers: RawHeaders, message: string): void {
    ;(this.#handler.onResponseStart as (...a: unknown[]) => void)?.(controller, status, headers, message)
  }
  onResponseData(controller: Controller, chunk: Uint8Array): void {
    ;(this.#handler.onResponseData as (...a: unknown[]) => void)?.(controller, chunk)
  }
  onResponseEnd(controller: Controller, trailers: RawHeaders): void {
    ;(this.#handler.onResponseEnd as (...a: unknown[]) => void)?.(controller, trailers)
  }
  onResponseError(controller: Controller, error: Error): void {
    this.#handler.onResponseError?.(controller, error)
  }
}

/**
 * The origin a redirect chain started from, when `handler` is undici's redirect handler composed
 * *outside* the signer (it re-dispatches each hop through us); `undefined` on a first request.
 */
export function redirectChainOrigin(handler: Dispatcher.DispatchHandler): string | undefined {
  const history = (handler as { history?: unknown }).history
  if (!Array.isArray(history) || history.length === 0 || !(history[0] instanceof URL)) return undefined
  return history[0].origin
}
