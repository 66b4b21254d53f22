import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { pushBody, replayBody } from './node-body.js'

describe('replayBody', () => {
  it('makes a request read to its end readable again, with the same bytes', async () => {
    const req = new IncomingMessage(new Socket())
    req.push(Buffer.from('hello '))
    req.push(Buffer.from('world'))
    req.complete = true
    req.push(null)
    const seen: string[] = []
    expect(pushBody(req).feed({ take: (c) => void seen.push(String(c)) })).toBeUndefined()
    expect(seen.join('')).toBe('hello world')
    await replayBody(req, Buffer.from(seen.join('')))
    let again = ''
    for await (const c of req) again += String(c)
    expect(again).toBe('hello world')
  })
})

describe('pushBody', () => {
  const message = () => new IncomingMessage(new Socket())
  const sink = () => {
    const seen: string[] = []
    return { seen, take: (c: Uint8Array | string) => void seen.push(String(c)) }
  }
  const listeners = (s: Readable) => ['data', 'end', 'error', 'close'].map((e) => s.listenerCount(e))

  it('takes a request the parser already finished without a promise', () => {
    const req = message()
    req.push(Buffer.from('hello '))
    req.push(Buffer.from('world'))
    req.complete = true
    req.push(null)
    const s = sink()
    expect(pushBody(req).feed(s)).toBeUndefined()
    expect(s.seen.join('')).toBe('hello world')
  })

  it('takes nothing twice: a second read while the first waits is refused', async () => {
    const req = message()
    const fed = pushBody(req).feed(sink())
    await expect(pushBody(req).feed(sink())).rejects.toThrow('already being read')
    req.complete = true
    req.push(null)
    await fed
  })

  it('waits for a request still arriving, then leaves no listener behind', async () => {
    const req = message()
    const before = listeners(req)
    const s = sink()
    const fed = pushBody(req).feed(s)
    expect(fed).toBeInstanceOf(Promise)
    req.push(Buffer.from('hello '))
    setImmediate(() => {
      req.push(Buffer.from('world'))
      req.complete = true
      req.push(null)
    })
    await fed
    expect(s.seen.join('')).toBe('hello world')
    expect(listeners(req)).toEqual(before)
  })

  it('stops where take throws: rejects with its error, pauses the request, keeps it open', async () => {
    const req = message()
    const tooLarge = new Error('too large')
    const fed = pushBody(req).feed({
      take() {
        throw tooLarge
      },
    })
    req.push(Buffer.from('x'))
    await expect(fed).rejects.toBe(tooLarge)
    expect(req.isPaused()).toBe(true)
    expect(req.destroyed).toBe(false)
    expect(req.listenerCount('data')).toBe(0)
  })

  it('rejects when the request closes before its end (the client went away)', async () => {
    const req = message()
    const fed = pushBody(req).feed(sink())
    req.push(Buffer.from('partial'))
    setImmediate(() => req.destroy())
    await expect(fed).rejects.toThrow()
    expect(listeners(req).slice(0, 2)).toEqual([0, 0])
  })

  it('keeps reads of the same deadline in one queue: each times out at its own, one that ends leaves it', async () => {
    const first = message()
    const ended = message()
    const last = message()
    const fedFirst = pushBody(first).feed(sink(), 30)
    const fedEnded = pushBody(ended).feed(sink(), 30)
    const fedLast = pushBody(last).feed(sink(), 30)
    ended.complete = true
    ended.push(null)
    await fedEnded
    await expect(fedFirst).rejects.toMatchObject({ code: 'BODY_TIMEOUT' })
    await expect(fedLast).rejects.toMatchObject({ code: 'BODY_TIMEOUT' })
    expect([first, ended, last].map((r) => r.listenerCount('data'))).toEqual([0, 0, 0])
  })

  it('keeps its own deadline: past it, stops reading and rejects with BODY_TIMEOUT', async () => {
    const req = message()
    const before = listeners(req)
    const fed = pushBody(req).feed(sink(), 20)
    req.push(Buffer.from('slow'))
    await expect(fed).rejects.toMatchObject({ code: 'BODY_TIMEOUT' })
    expect(listeners(req)).toEqual(before)
    expect(req.isPaused()).toBe(true)
  })

  it('answers a failed stream with BODY_INCOMPLETE, the cause kept', async () => {
    const req = message()
    const fed = pushBody(req).feed(sink(), 1000)
    const reset = new Error('aborted')
    setImmediate(() => req.destroy(reset))
    await expect(fed).rejects.toMatchObject({ code: 'BODY_INCOMPLETE', cause: reset })
  })
})
