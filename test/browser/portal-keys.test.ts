// The portal's key pages in headless Chromium (issue 28 items 5-9): the usage chart with axes,
// dates and values and its table per day with rejections by reason; "last used" in the list and
// the detail; editing scopes, expiry, limits and metadata within the actor's grant; no "Rotate"
// on a rotated key; named operators in the history and the audit log; the propagation bound after
// a change; and the layout at 375 px (the keys table scrolls inside its frame, its caption sits
// above it, the invite result shows the limits, not a blank form). Screenshots at 375 and 1280
// px go where portal-fixture.ts says (`pnpm screenshots`: docs/screenshots).
import { join } from 'node:path'
import { KEY_CHANGE_PROPAGATION } from '@sigil/keys'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PortalFixture, startPortal } from './portal-fixture.js'

const DAY = 86_400_000
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10)
const WIDE = { width: 1280, height: 900 }
const PHONE = { width: 375, height: 740 }

/** Nothing on the page scrolls sideways: it fits the viewport. */
const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth)

describe('portal key pages in a browser', { timeout: 60_000 }, () => {
  let f: PortalFixture
  beforeAll(async () => {
    f = await startPortal()
  }, 120_000)
  afterAll(async () => {
    await f?.close()
  })

  it('key detail: a chart with labelled axes, dates and values, a table per day by reason, and last used (list and detail)', async () => {
    const k = await f.seed.create({ principal: 'acme-logistics', scopes: ['orders:read', 'orders:write'] })
    const idle = await f.seed.create({ principal: 'acme-logistics', scopes: ['orders:read'] })
    // Earlier days, as the verifier reports them to the recorder; today, real signed requests.
    const now = Date.now()
    const at = (days: number) => new Date(now - days * DAY)
    for (let i = 0; i < 5; i++) f.usage.record({ keyId: k.keyId, keyFound: true, outcome: 'accepted', at: at(3) })
    for (let i = 0; i < 2; i++) f.usage.record({ keyId: k.keyId, keyFound: true, outcome: 'RATE_LIMITED', at: at(3) })
    f.usage.record({ keyId: k.keyId, keyFound: true, outcome: 'accepted', at: at(1) })
    f.usage.record({ keyId: k.keyId, keyFound: true, outcome: 'NONCE_REPLAYED', at: at(1) })
    for (let i = 0; i < 3; i++) expect((await f.callApi(k.token)).status).toBe(200)
    expect((await f.callApi(k.token, '{"sku":"A-1"}', '{"sku":"B-2"}')).code).toBe('DIGEST_MISMATCH')
    await f.usage.flush()

    const wide = await f.browser.newContext({ viewport: WIDE })
    const page = await wide.newPage()
    await f.signIn(page, { role: 'operator', name: 'alice' })
    // Last used in the list: just now for the key in use, none in 30 days for the idle one.
    const row = (id: string) => page.getByRole('row').filter({ has: page.getByRole('link', { name: id }) })
    await expect(row(k.keyId).locator('td').last().textContent()).resolves.toBe('just now')
    await expect(row(idle.keyId).locator('td').last().textContent()).resolves.toBe('none in 30 days')
    await expect(page.getByRole('columnheader').last().textContent()).resolves.toBe('Last used')

    await page.getByRole('link', { name: k.keyId }).click()
    const chart = page.locator('svg.chart')
    await expect(chart.getAttribute('aria-label')).resolves.toContain('9 accepted, 4 rejected')
    // Labelled axes, dates along the bottom, a value above each day with requests.
    const texts = await chart.locator('text').allTextContents()
    expect(texts).toContain('Requests per day')
    expect(texts).toContain('Day (UTC, month-day)')
    expect(texts).toContain(dayOf(now).slice(5))
    expect(texts).toContain(dayOf(now - 5 * DAY).slice(5))
    expect(texts).toEqual(expect.arrayContaining(['0', '7', '2', '4']))
    // Each day's detail as the bar's tooltip.
    const titles = await chart.locator('g > title').allTextContents()
    expect(titles).toContain(`${dayOf(now - 3 * DAY)}: 5 accepted, 2 rejected (RATE_LIMITED 2)`)
    expect(titles).toContain(`${dayOf(now)}: 3 accepted, 1 rejected (DIGEST_MISMATCH 1)`)
    // The legend names every series, and the table per day has the same numbers, by reason.
    await expect(page.locator('.legend').textContent()).resolves.toMatch(/accepted.*RATE_LIMITED.*/)
    const table = page.getByRole('table', { name: /Requests per day/ })
    const head = await table.getByRole('columnheader').allTextContents()
    expect(head.slice(0, 3)).toEqual(['Date (UTC)', 'Accepted', 'Rejected'])
    expect(head.slice(3).sort()).toEqual(['Rejected: DIGEST_MISMATCH', 'Rejected: NONCE_REPLAYED', 'Rejected: RATE_LIMITED'])
    const cells = async (date: string) => {
      const r = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: date }) })
      const values = await r.getByRole('cell').allTextContents()
      return Object.fromEntries(head.slice(1).map((h, i) => [h, values[i]]))
    }
    expect(await cells(dayOf(now - 3 * DAY))).toMatchObject({ Accepted: '5', Rejected: '2', 'Rejected: RATE_LIMITED': '2' })
    expect(await cells(dayOf(now - DAY))).toMatchObject({ Accepted: '1', Rejected: '1', 'Rejected: NONCE_REPLAYED': '1' })
    expect(await cells(dayOf(now))).toMatchObject({ Accepted: '3', 'Rejected: DIGEST_MISMATCH': '1', 'Rejected: RATE_LIMITED': '0' })
    expect(await table.getByRole('row').count()).toBe(4)
    // Last used in the detail.
    await expect(page.locator('dl').textContent()).resolves.toMatch(/Last used(just now|\d+ min ago) \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)/)
    await page.screenshot({ path: join(f.shots, 'key-detail.png'), fullPage: true })
    await wide.close()

    // At 375 px: the page fits, the chart scales down, the table per day scrolls in its frame.
    const phone = await f.browser.newContext({ viewport: PHONE })
    const small = await phone.newPage()
    await f.signIn(small, { role: 'operator', name: 'alice' })
    await small.goto(`${f.portalOrigin}/keys/${k.keyId}`)
    expect(await pageWidth(small)).toBeLessThanOrEqual(375)
    const box = await small.locator('svg.chart').boundingBox()
    expect(box && box.x >= 0 && box.x + box.width <= 375).toBe(true)
    await small.screenshot({ path: join(f.shots, 'key-detail-375px.png'), fullPage: true })
    await phone.close()
  })

  it('at 375 px the keys table scrolls inside its frame, its caption above it; the invite result shows its limits, no blank form', async () => {
    await f.seed.create({ principal: 'globex-shipping-eu-west', scopes: ['orders:read', 'orders:write', 'invoices:read'] })
    const phone = await f.browser.newContext({ viewport: PHONE })
    const page = await phone.newPage()
    await f.signIn(page, { role: 'operator', name: 'alice' })
    expect(await pageWidth(page)).toBeLessThanOrEqual(375)
    const region = page.getByRole('region', { name: 'Keys' })
    const layout = () =>
      region.evaluate((el) => {
        const r = el.getBoundingClientRect()
        const caption = (el.querySelector('caption') as HTMLElement).getBoundingClientRect()
        const thead = (el.querySelector('thead') as HTMLElement).getBoundingClientRect()
        const table = (el.querySelector('table') as HTMLElement).getBoundingClientRect()
        const last = (el.querySelector('thead th:last-child') as HTMLElement).getBoundingClientRect()
        return {
          region: { left: r.left, right: r.right },
          scrolls: el.scrollWidth > el.clientWidth,
          overflow: getComputedStyle(el).overflowX,
          caption: { left: caption.left, bottom: caption.bottom },
          table: { left: table.left },
          theadTop: thead.top,
          last: { left: last.left, right: last.right },
        }
      })
    const before = await layout()
    // The frame stays inside the page; the table is wider and scrolls inside it (not cut off).
    expect(before.region.right).toBeLessThanOrEqual(375)
    expect(before.scrolls).toBe(true)
    expect(before.overflow).toBe('auto')
    // The caption sits above the table's head, at its left edge (not floating beside it).
    expect(before.caption.bottom).toBeLessThanOrEqual(before.theadTop + 0.5)
    expect(Math.abs(before.caption.left - before.table.left)).toBeLessThan(2)
    await page.screenshot({ path: join(f.shots, 'keys-375px.png'), fullPage: true })
    // Scrolled by keyboard (the frame takes focus), the last column comes fully into view.
    await region.focus()
    await page.keyboard.press('End')
    for (let i = 0; i < 40 && (await layout()).last.right > (await layout()).region.right + 1; i++) await page.keyboard.press('ArrowRight')
    const after = await layout()
    expect(after.last.right).toBeLessThanOrEqual(after.region.right + 1)
    expect(after.last.left).toBeGreaterThanOrEqual(after.region.left)
    await page.screenshot({ path: join(f.shots, 'keys-375px-scrolled.png') })

    // The invite result: the link and the limits it carries; no form asking for them again.
    await page.goto(`${f.portalOrigin}/partners/invite`)
    await page.getByLabel('Principal').fill('acme')
    await page.getByLabel('Most active keys').fill('2')
    await page.getByLabel(/Scopes they may grant/).fill('orders:read orders:write')
    await page.getByRole('button', { name: 'Create invite link' }).click()
    await expect(page.locator('#token').textContent()).resolves.toContain('/login?token=')
    const visibleFields = await page.locator('main input:not([type=hidden]), main select, main textarea').count()
    expect(visibleFields).toBe(0)
    await expect(page.locator('main dl').textContent()).resolves.toBe(
      'PrincipalacmeMost working keys2Scopes they may grantorders:read orders:write',
    )
    await expect(page.getByRole('link', { name: 'Invite another partner' }).isVisible()).resolves.toBe(true)
    expect(await pageWidth(page)).toBeLessThanOrEqual(375)
    await page.screenshot({ path: join(f.shots, 'invite-375px.png'), fullPage: true })
    await phone.close()
  })

  it('edit from the dashboard: the operator changes scopes, expiry, limits and metadata; a rotated key offers no Rotate', async () => {
    const k = await f.seed.create({ principal: 'initech', scopes: ['orders:read'] })
    const wide = await f.browser.newContext({ viewport: WIDE })
    const page = await wide.newPage()
    page.on('dialog', (d) => void d.accept())
    await f.signIn(page, { role: 'operator', name: 'alice' })
    await page.goto(`${f.portalOrigin}/keys/${k.keyId}`)
    await page.getByLabel(/^Scopes/).fill('orders:read orders:write')
    await page.getByLabel(/^Expires/).fill('2031-02-03T04:05')
    await page.getByRole('group', { name: 'Rate limit' }).getByLabel('Requests').fill('100')
    await page.getByRole('group', { name: 'Rate limit' }).getByLabel(/per/).fill('60')
    await page.getByRole('group', { name: 'Quota' }).getByLabel('Requests').fill('10000')
    await page.getByRole('group', { name: 'Quota' }).getByLabel(/per/).fill('24')
    await page.getByLabel(/^Metadata/).fill('{"team": "billing"}')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.waitForURL(/\?done=updated$/)
    // The change is stored, and the page says when it reaches servers with a key cache.
    await expect(page.getByRole('status').textContent()).resolves.toBe(
      `Changes saved. This portal announces no changes (no fan-out): ${KEY_CHANGE_PROPAGATION}.`,
    )
    const info = await f.store.info(k.keyId)
    expect(info?.scopes).toEqual(['orders:read', 'orders:write'])
    expect(info?.expiresAt?.toISOString()).toBe('2031-02-03T04:05:00.000Z')
    expect(info?.rateLimits).toEqual({ rate: { points: 100, windowMs: 60_000 }, quota: { points: 10_000, periodMs: 86_400_000 } })
    expect(info?.metadata).toEqual({ team: 'billing' })
    await expect(page.locator('dl').textContent()).resolves.toContain('100 requests per 60 s; quota 10000 per 24 h')
    await page.screenshot({ path: join(f.shots, 'key-edited.png'), fullPage: true })

    // Rotate: the old key then offers no Rotate (nor Edit), only an early Revoke, and names its successor.
    await page.getByLabel(/Old key keeps working/).fill('1')
    await page.getByRole('button', { name: 'Rotate key' }).click()
    const next = ((await page.locator('#token').textContent()) ?? '').split('_')[2] as string
    await page.goto(`${f.portalOrigin}/keys/${k.keyId}`)
    expect(await page.getByRole('button', { name: 'Rotate key' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Save changes' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: 'Revoke key' }).count()).toBe(1)
    await expect(page.locator('.notice').first().textContent()).resolves.toContain(`replaced by ${next}`)
    await page.goto(`${f.portalOrigin}/keys`)
    await expect(
      page
        .getByRole('row')
        .filter({ has: page.getByRole('link', { name: k.keyId }) })
        .locator('td')
        .nth(2)
        .textContent(),
    ).resolves.toBe('active (rotated)')
    await wide.close()
  })

  it("a partner's edit form offers what its grant allows; the store refuses the rest on the page", async () => {
    const k = await f.seed.create({ principal: 'hooli', scopes: ['orders:read'] })
    const phone = await f.browser.newContext({ viewport: PHONE })
    const page = await phone.newPage()
    await f.signIn(page, { role: 'partner', principal: 'hooli', maxKeys: 3, allowedScopes: ['orders:read', 'orders:write'] })
    await page.goto(`${f.portalOrigin}/keys/${k.keyId}`)
    expect(await page.getByRole('group', { name: 'Rate limit' }).count()).toBe(0)
    expect(await page.getByLabel(/^Metadata/).count()).toBe(0)
    await expect(page.getByText('you may add: orders:read orders:write').isVisible()).resolves.toBe(true)
    await page.getByLabel(/^Scopes/).fill('orders:read orders:write invoices:write')
    const refused = page.waitForResponse((r) => r.url().endsWith('/edit'))
    await page.getByRole('button', { name: 'Save changes' }).click()
    expect((await refused).status()).toBe(403)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('invoices:write is not a scope this actor may grant')
    expect((await f.store.info(k.keyId))?.scopes).toEqual(['orders:read'])
    // What was typed is still there, under the refusal.
    await expect(page.getByLabel(/^Scopes/).inputValue()).resolves.toBe('orders:read orders:write invoices:write')
    expect(await pageWidth(page)).toBeLessThanOrEqual(375)
    await page.screenshot({ path: join(f.shots, 'partner-edit-375px.png'), fullPage: true })
    await page.getByLabel(/^Scopes/).fill('orders:read orders:write')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.waitForURL(/\?done=updated$/)
    expect((await f.store.info(k.keyId))?.scopes).toEqual(['orders:read', 'orders:write'])
    await phone.close()
  })

  it('named operators: the key history and the audit log say who did what; a revoke states the propagation bound', async () => {
    const alice = await f.browser.newContext({ viewport: WIDE })
    const a = await alice.newPage()
    await f.signIn(a, { role: 'operator', name: 'alice' })
    await expect(a.locator('header').textContent()).resolves.toContain('Operator alice')
    await a.goto(`${f.portalOrigin}/keys/new`)
    await a.getByLabel('Principal').fill('umbrella')
    await a.getByRole('button', { name: 'Create key' }).click()
    const token = (await a.locator('#token').textContent()) ?? ''
    const keyId = token.split('_')[2] as string

    const bob = await f.browser.newContext({ viewport: PHONE })
    const b = await bob.newPage()
    b.on('dialog', (d) => void d.accept())
    await f.signIn(b, { role: 'operator', name: 'bob' })
    await b.goto(`${f.portalOrigin}/keys/${keyId}`)
    // Before: the revoke form says when other servers stop accepting the key.
    await expect(b.getByText(KEY_CHANGE_PROPAGATION).first().isVisible()).resolves.toBe(true)
    await b.getByLabel(/I understand/).check()
    await b.getByRole('button', { name: 'Revoke key' }).click()
    await b.waitForURL(/\?done=revoked$/)
    // After: the bound again, as the CLI prints it, in the status message.
    await expect(b.getByRole('status').textContent()).resolves.toBe(
      `Key revoked. This portal announces no changes (no fan-out): ${KEY_CHANGE_PROPAGATION}.`,
    )
    expect(await pageWidth(b)).toBeLessThanOrEqual(375)
    await b.screenshot({ path: join(f.shots, 'key-revoked-375px.png'), fullPage: true })

    // The key's history: who created it, who revoked it, newest first.
    const history = b.getByRole('table', { name: /Who changed this key/ })
    const rows = await history
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent)))
    expect(rows).toEqual([
      ['operator:bob', 'revoked'],
      ['operator:alice', 'created, scopes (none)'],
    ])
    // The audit log: the same, with the sign-ins.
    await a.goto(`${f.portalOrigin}/events`)
    const log = await a
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
    expect(log).toEqual(
      expect.arrayContaining([
        expect.arrayContaining(['operator:bob', 'key.revoke', keyId, 'umbrella']),
        expect.arrayContaining(['operator:alice', 'key.create', keyId, 'umbrella']),
        expect.arrayContaining(['operator:bob', 'session.login']),
      ]),
    )
    await a.screenshot({ path: join(f.shots, 'audit-log.png') })
    await alice.close()
    await bob.close()
  })
})
