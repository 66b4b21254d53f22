// Two portal instances behind a load balancer that alternates every request between them, driven
// by a real browser: the sign-in started on one instance completes on the other, every page and
// every form (with its CSRF token) works whichever instance answers, and a sign-out on one ends
// the session on both. The instances share nothing but the key store file, as two processes do.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdmin, createLinkToken, deriveAdminSecret } from '@sigil/admin'
import { generateMasterKey } from '@sigil/keys'
import { createSqliteKeyStore, type SqliteKeyStore } from '@sigil/keys/sqlite'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM_ARGS, chromiumExecutablePath } from './chromium.js'

const listen = async (server: Server): Promise<string> => {
  server.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('two portal instances behind an alternating load balancer, in a browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-portal-lb-'))
  const masterKey = generateMasterKey('v1')
  const secret = deriveAdminSecret(masterKey)
  const stores: SqliteKeyStore[] = []
  const servers: Server[] = []
  const served = [0, 0]
  let origin = ''
  let browser: Browser

  beforeAll(async () => {
    const backends: string[] = []
    for (let i = 0; i < 2; i++) {
      const store = await createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey })
      stores.push(store)
      const portal = createServer(createAdmin({ store, adminSecret: secret }).handler)
      servers.push(portal)
      backends.push(await listen(portal))
    }
    // Round robin per request, Host kept as the browser sent it (the balancer's own address).
    let next = 0
    const balancer = createServer((req, res) => {
      const i = next++ % 2
      served[i] = (served[i] as number) + 1
      const [host, port] = (backends[i] as string).split(':')
      const up = request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      })
      up.on('error', () => {
        res.statusCode = 502
        res.end()
      })
      req.pipe(up)
    })
    servers.push(balancer)
    origin = `http://${await listen(balancer)}`
    browser = await chromium.launch({ executablePath: await chromiumExecutablePath(), args: CHROMIUM_ARGS })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()))
    for (const s of stores) await s.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('signs in on one, works on both, and a sign-out on either ends it everywhere', async () => {
    const page = await browser.newPage()
    // The link page and the sign-in POST land on different instances.
    await page.goto(`${origin}/login?token=${encodeURIComponent(createLinkToken(secret, { role: 'operator', name: 'alice' }))}`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${origin}/keys`)
    // Pages from both instances see the session.
    for (let i = 0; i < 4; i++) {
      await page.goto(`${origin}/keys`)
      expect(await page.getByRole('heading', { name: 'Keys', exact: true }).isVisible()).toBe(true)
      expect(await page.content()).toContain('Operator alice')
    }
    // A form served by one instance is accepted by the other (its CSRF token included).
    await page.goto(`${origin}/keys/new`)
    await page.getByLabel('Principal').fill('acme-logistics')
    await page.getByLabel('Scopes').fill('orders:read')
    await page.getByRole('button', { name: 'Create key' }).click()
    expect((await page.locator('#token').textContent()) ?? '').toMatch(/^sigil_sk_/)
    expect(served[0]).toBeGreaterThan(2)
    expect(served[1]).toBeGreaterThan(2)

    // Sign out (whichever instance takes it); neither instance accepts the session after.
    await page.goto(`${origin}/keys`)
    await page.getByRole('button', { name: 'Sign out' }).click()
    for (let i = 0; i < 2; i++) {
      const res = await page.goto(`${origin}/keys`)
      expect(await page.getByRole('heading', { name: 'Keys', exact: true }).count()).toBe(0)
      expect(res?.status()).toBe(401)
      expect(await page.content()).not.toContain('Operator alice')
    }
    await page.close()
  }, 60_000)
})
