import { ConfigurationError } from '@sigil/core'
import { concatBytes, toBytes } from '@sigil/core/internal'

/** A FormData as fetch serializes it: the bytes and the Content-Type naming their boundary. */
export async function serializeForm(form: FormData): Promise<{ bytes: Uint8Array; contentType: string }> {
  const r = new Response(form)
  return { bytes: new Uint8Array(await r.arrayBuffer()), contentType: r.headers.get('content-type') as string }
}

type LegacyStream = {
  on(event: string, listener: (...args: never[]) => void): unknown
  resume?(): unknown
  destroy?(error?: Error): unknown
}

/**
 * Read a stream a client library would send (a Node `Readable`, a legacy stream such as the
 * form-data package's, a Web `ReadableStream`, an async iterable) into memory, to digest it before
 * it is sent. More than `limit` bytes stops the read with `tooLarge()`.
 */
export async function collect(source: unknown, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  const take = (chunk: unknown) => {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      throw new ConfigurationError('a body stream must yield bytes (Uint8Array) or strings')
    }
    const b = toBytes(chunk)
    size += b.byteLength
    if (size > limit) throw tooLarge()
    parts.push(b)
  }
  const s = source as Partial<AsyncIterable<unknown>> & Partial<ReadableStream<Uint8Array>> & LegacyStream
  if (typeof s.getReader === 'function') {
    const reader = s.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        take(value)
      }
    } catch (e) {
      void reader.cancel().catch(() => {})
      throw e
    }
  } else if (typeof s[Symbol.asyncIterator] === 'function') {
    for await (const chunk of s as AsyncIterable<unknown>) take(chunk)
  } else {
    await new Promise<void>((resolve, reject) => {
      s.on('data', (chunk: never) => {
        try {
          take(chunk)
        } catch (e) {
          s.destroy?.()
          reject(e)
        }
      })
      s.on('end', () => resolve())
      s.on('error', (e: never) => reject(e))
      s.resume?.()
    })
  }
  return concatBytes(parts)
}
