import {
  createEceDecrypter,
  createEceEncrypter,
  type EceDecrypter,
  type EceDecryptOptions,
  type EceEncrypter,
  type EceEncryptOptions,
} from './ece.js'
import { concatBytes } from './encoding.js'

function transform(codec: EceEncrypter | EceDecrypter): TransformStream<Uint8Array, Uint8Array> {
  // Backpressure holds memory to a record and the streams' queues, whatever the body's size.
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      for (const part of await codec.push(chunk)) controller.enqueue(part)
    },
    async flush(controller) {
      for (const part of await codec.end()) controller.enqueue(part)
    },
  })
}

/**
 * A Web stream that encrypts what flows through it (RFC 8188 `aes128gcm`).
 *
 * @example
 * ```ts
 * const body = plaintext.pipeThrough(encryptStream({ key, keyId }))
 * ```
 */
export function encryptStream(options: EceEncryptOptions): TransformStream<Uint8Array, Uint8Array> {
  return transform(createEceEncrypter(options))
}

/** A Web stream that decrypts what flows through it; a bad record errors the stream. */
export function decryptStream(options: EceDecryptOptions): TransformStream<Uint8Array, Uint8Array> {
  return transform(createEceDecrypter(options))
}

async function* run(codec: EceEncrypter | EceDecrypter, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) yield* await codec.push(chunk)
  yield* await codec.end()
}

/** Encrypt an async iterable of chunks (a Node `Readable` is one; `Readable.from` turns the result back). */
export function encryptChunks(source: AsyncIterable<Uint8Array>, options: EceEncryptOptions): AsyncGenerator<Uint8Array> {
  return run(createEceEncrypter(options), source)
}

/** Decrypt an async iterable of chunks; throws `BODY_DECRYPTION_FAILED` at the first bad record. */
export function decryptChunks(source: AsyncIterable<Uint8Array>, options: EceDecryptOptions): AsyncGenerator<Uint8Array> {
  return run(createEceDecrypter(options), source)
}

async function whole(codec: EceEncrypter | EceDecrypter, bytes: Uint8Array): Promise<Uint8Array> {
  const parts = [...(await codec.push(bytes)), ...(await codec.end())]
  return concatBytes(parts)
}

/** Encrypt a whole body held in memory. */
export async function encryptBytes(bytes: Uint8Array, options: EceEncryptOptions): Promise<Uint8Array> {
  return whole(createEceEncrypter(options), bytes)
}

/** Decrypt a whole body held in memory. */
export async function decryptBytes(bytes: Uint8Array, options: EceDecryptOptions): Promise<Uint8Array> {
  return whole(createEceDecrypter(options), bytes)
}
