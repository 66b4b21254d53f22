// What the portal's browser tests share: a SQLite key store, an example partner API that verifies
// against it and records usage in the real Redis, the portal on that store (usage read back from
// Redis), and headless Chromium from `pnpm install` (chromium.ts). Screenshots go to a temporary
// folder unless SIGIL_SCREENSHOTS_DIR names one (`pnpm screenshots` names docs/screenshots), so no
// `pnpm test` rewrites a tracked file.
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type AdminOptions, createAdmin, createLinkToken, deriveAdminSecret } from '@sigil/admin'
import { signRequest } from '@sigil/client'
import { generateMasterKey } from '@sigil/keys'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { createRedisUsageRecorder, getUsage } from '@sigil/redis'
import { sendProblem, verifyNodeRequest } from '@sigil/server/node'
import { Redis } from 'ioredis'
import { type Browser, chromium, type Page } from 'playwright-core'
import { TEST_REDIS_URL } from '../helpers/services.js'
import { CHROMIUM_ARGS, chromiumExecutablePath } from './chromium.js'

/** Start everything; `close()` stops it and removes what it wrote (Redis keys, the temp folder). */
export async function startPortal(o: { admin?: Partial<AdminOptions> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-portal-'))
  const shots = process.env.SIGIL_SCREENSHOTS_DIR
    ? resolve(import.meta.dirname, '..', '..', process.env.SIGIL_SCREENSHOTS_DIR)
    : join(dir, 'screenshots')
  mkdirSync(shots, { recursive: true })
  const masterKey = generateMasterKey('v1')
  const prefix = `sigil-portal-test-${randomBytes(4).toString('hex')}`
  const store = await createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey })
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  const usage = createRedisUsageRecorder(redis, { prefix, flushIntervalMs: 50, liveness: false })
  // The partner-facing API the keys are for: verifies against the same store, records usage.
  const apiOptions = { keys: store, usage }
  const api = createServer(async (req, res) => {
    try {
      const v = await verifyNodeRequest(req, apiOptions)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ principal: v.principal }))
    } catch (e) {
      sendProblem(res, e)
    }
  }).listen(0, '127.0.0.1')
  await new Promise((r) => api.once('listening', r))
  const apiOrigin = `http://127.0.0.1:${(api.address() as AddressInfo).port}`
  const admin = createAdmin({
    store,
    adminSecret: deriveAdminSecret(masterKey),
    usage: (keyId, range) => getUsage(redis, keyId, range, { prefix }),
    ...o.admin,
  })
  const portal = createServer(admin.handler).listen(0, '127.0.0.1')
  await new Promise((r) => portal.once('listening', r))
  const portalOrigin = `http://127.0.0.1:${(portal.address() as AddressInfo).port}`
  const browser: Browser = await chromium.launch({ executablePath: await chromiumExecutablePath(), args: CHROMIUM_ARGS })

  /** A one-time link for these claims (what `sigil admin login` / `invite` print). */
  const link = (claims: Parameters<typeof createLinkToken>[1]) =>
    `${portalOrigin}/login?token=${encodeURIComponent(createLinkToken(deriveAdminSecret(masterKey), claims))}`

  const signIn = async (page: Page, claims: Parameters<typeof createLinkToken>[1]) => {
    await page.goto(link(claims))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${portalOrigin}/keys`)
  }

  /** A signed request to the example API; `swap` sends another body than the one signed. */
  const callApi = async (token: string, body = '{"sku":"A-1"}', swap?: string) => {
    const signed = await signRequest(
      new Request(`${apiOrigin}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      { token },
    )
    const res = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: swap ?? body })
    return { status: res.status, code: ((await res.json()) as { code?: string }).code }
  }

  const close = async () => {
    await browser.close()
    await new Promise<void>((r) => portal.close(() => r()))
    await new Promise<void>((r) => api.close(() => r()))
    await usage.close()
    const keys = await redis.keys(`{${prefix}:*`)
    const more = await redis.keys(`${prefix}:*`)
    if (keys.length + more.length) await redis.del(...keys, ...more)
    redis.disconnect()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }

  // Keys the tests set up are made by a named CLI user, as the audit log and history show them.
  const seed = store.as?.('cli:dana@ops') ?? store
  return { store, seed, usage, browser, portalOrigin, apiOrigin, shots, link, signIn, callApi, close }
}

export type PortalFixture = Awaited<ReturnType<typeof startPortal>>
