import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { joinRetained, type Retained, readChunks, replayBody } from './node-body.js'

const keep = (): Retained => ({ parts: [], bytes: 0, complete: false })

describe('readChunks / replayBody', () => {
  it('reads a stream to its end, keeping the bytes, then makes it readable again with the same bytes', async () => {
    const stream = Readable.from([Buffer.from('hello '), Buffer.from('world')], { objectMode: false })
    const k = keep()
    const seen: string[] = []
    for await (const c of readChunks(stream, k)) seen.push(Buffer.from(c).toString())
    expect(seen.join('')).toBe('hello world')
    expect(k.complete).toBe(true)
    expect(stream.listenerCount('data')).toBe(0)
    await replayBody(stream, joinRetained(k))
    let again = ''
    for await (const c of stream) again += String(c)
    expect(again).toBe('hello world')
  })

  it('stops early without destroying the stream or leaving listeners', async () => {
    const stream = Readable.from(
      ['a', 'b', 'c'].map((s) => Buffer.from(s)),
      { objectMode: false },
    )
    const k = keep()
    for await (const _ of readChunks(stream, k)) break
    expect(k.complete).toBe(false)
    expect(stream.destroyed).toBe(false)
    expect(stream.listenerCount('data')).toBe(0)
  })
})
