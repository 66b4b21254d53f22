import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_CLOCK_CORRECTION_MS, skewCorrection } from './clock-skew.js'

const skew401 = (dateMs: number) =>
  new Response(JSON.stringify({ code: 'CLOCK_SKEW' }), {
    status: 401,
    headers: { 'content-type': 'application/problem+json', date: new Date(dateMs).toUTCString() },
  })

describe('skewCorrection', () => {
  const now = 1_800_000_000_000
  it('takes a forward correction only within the bound: a forged future Date cannot pre-sign', async () => {
    expect(await skewCorrection(skew401(now + 200_000), now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBe(200_000)
    expect(await skewCorrection(skew401(now + 600_000), now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBeUndefined()
    expect(await skewCorrection(skew401(now + 86_400_000), now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBeUndefined()
  })
  it('takes a backward correction of any size: it can only date signatures earlier', async () => {
    expect(await skewCorrection(skew401(now - 600_000), now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBe(-600_000)
    expect(await skewCorrection(skew401(now - 86_400_000), now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBe(-86_400_000)
  })
  it('ignores anything but a 401 CLOCK_SKEW with a Date', async () => {
    expect(await skewCorrection(new Response('{}', { status: 401 }), now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBeUndefined()
    const other = new Response(JSON.stringify({ code: 'SIGNATURE_INVALID' }), {
      status: 401,
      headers: { 'content-type': 'application/json', date: new Date(now).toUTCString() },
    })
    expect(await skewCorrection(other, now, DEFAULT_MAX_CLOCK_CORRECTION_MS)).toBeUndefined()
  })
})
