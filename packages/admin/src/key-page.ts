// The key detail page: facts, usage (chart and table per day), last use, history (who did
// what), and the forms to edit, rotate and revoke — each offered only where it applies. What the
// actor may change comes from its grant (`grantOf`, the store's one rule); the store checks it
// again on every write, so a field shown here is a convenience, never the authorization.
import type { KeyGrant } from '@sigil/keys'
import type { z } from 'zod'
import { csrfField, esc, type PageUser, tableRegion, type UsageDayView, usageChart } from './pages.js'
import type { updateKeyBody } from './schemas.js'
import { AdminError, instantOf } from './service.js'

/** A key as `keyJson` shows it. */
export type KeyView = Record<string, unknown> & {
  keyId: string
  principal: string
  scopes: string[]
  status: string
  createdAt: string
  expiresAt?: string
  notAfter?: string
  revokedAt?: string
  replacedBy?: string
  version?: number
  rateLimits?: { rate?: { points: number; windowMs: number }; quota?: { points: number; periodMs: number } }
  metadata?: Record<string, unknown>
  test?: boolean
}

/** An audit event as `eventJson` shows it. */
export type EventView = { at: string; actor: string; action: string; keyId?: string; detail?: Record<string, unknown> }

/** What the edit form sends, checked by the admin API's own schema before the store sees it. */
export type KeyEdit = z.input<typeof updateKeyBody>

/** "3 days ago" style age of `iso` at `now`, with the instant itself. */
export function whenText(iso: string | undefined, now: number): string {
  if (!iso) return ''
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  const ago =
    s < 60
      ? 'just now'
      : s < 3600
        ? `${Math.floor(s / 60)} min ago`
        : s < 86_400
          ? `${Math.floor(s / 3600)} h ago`
          : `${Math.floor(s / 86_400)} days ago`
  return `${ago} (${iso.slice(0, 16).replace('T', ' ')} UTC)`
}

/** The keys list's "last used" cell: how long ago (the instant on hover), or "none in N days". */
export function lastUsedCell(iso: string | undefined, now: number, days: number, hasUsage: boolean): string {
  if (!hasUsage) return '<span class="hint">not recorded</span>'
  if (!iso) return `<span class="hint">none in ${days} days</span>`
  return `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(whenText(iso, now).replace(/ \(.*\)$/, ''))}</time>`
}

/** The "last used" value: when, or that nothing was recorded in the range read. */
export function lastUsedText(iso: string | undefined, now: number, days: number, hasUsage: boolean): string {
  if (!hasUsage) return 'not recorded (no usage source)'
  return iso ? whenText(iso, now) : `not in the last ${days} days`
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x))

function numberField(form: URLSearchParams, name: string, label: string, scale: number): number | undefined {
  const raw = (form.get(name) ?? '').trim()
  if (!raw) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new AdminError(400, 'INVALID_REQUEST', `${label}: a positive number`)
  return Math.round(n * scale)
}

function pair<T>(a: number | undefined, b: number | undefined, label: string, make: (a: number, b: number) => T): T | undefined {
  if (a === undefined && b === undefined) return undefined
  if (a === undefined || b === undefined) throw new AdminError(400, 'INVALID_REQUEST', `${label}: give both numbers, or neither`)
  return make(a, b)
}

const scopesIn = (raw: string | null) =>
  (raw ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)

/**
 * The edit form as an update: only the fields that differ from the key as shown (so a partner
 * changing scopes sends no limits), with `ifVersion` so a change made meanwhile is a 409. The
 * limits and metadata fields count only when the form carries them.
 */
export function editFromForm(form: URLSearchParams, k: KeyView): KeyEdit {
  const edit: KeyEdit = {}
  const scopes = scopesIn(form.get('scopes'))
  if (!sameSet(scopes, k.scopes)) edit.scopes = scopes
  if (form.has('expiresAt')) {
    const raw = (form.get('expiresAt') ?? '').trim()
    if (!raw) {
      if (k.expiresAt) edit.expiresAt = null
    } else if (raw !== k.expiresAt?.slice(0, 16) && raw !== k.expiresAt?.slice(0, 19)) {
      edit.expiresAt = instantOf('expiresAt', `${raw}Z`).toISOString()
    }
  }
  if (form.has('ratePoints')) {
    const rate = pair(
      numberField(form, 'ratePoints', 'Rate limit requests', 1),
      numberField(form, 'rateWindowSeconds', 'Rate limit window', 1000),
      'Rate limit',
      (points, windowMs) => ({ points, windowMs }),
    )
    const quota = pair(
      numberField(form, 'quotaPoints', 'Quota requests', 1),
      numberField(form, 'quotaPeriodHours', 'Quota period', 3_600_000),
      'Quota',
      (points, periodMs) => ({ points, periodMs }),
    )
    const next = rate || quota ? { ...(rate ? { rate } : {}), ...(quota ? { quota } : {}) } : null
    if (JSON.stringify(next) !== JSON.stringify(k.rateLimits ?? null)) edit.rateLimits = next
  }
  if (form.has('metadata')) {
    const raw = (form.get('metadata') ?? '').trim()
    let next: Record<string, unknown> | null = null
    if (raw) {
      let parsed: unknown
      try {
        parsed = JSON.parse(raw)
      } catch {
        throw new AdminError(400, 'INVALID_REQUEST', 'metadata: not JSON (an object, e.g. {"team": "billing"})')
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new AdminError(400, 'INVALID_REQUEST', 'metadata: a JSON object, e.g. {"team": "billing"}')
      next = parsed as Record<string, unknown>
    }
    if (JSON.stringify(next) !== JSON.stringify(k.metadata ?? null)) edit.metadata = next
  }
  const version = Number(form.get('version') ?? '')
  if (Object.keys(edit).length && Number.isInteger(version) && version >= 0) edit.ifVersion = version
  return edit
}

const limitsText = (l: KeyView['rateLimits']) =>
  [
    l?.rate ? `${l.rate.points} requests per ${l.rate.windowMs / 1000} s` : '',
    l?.quota ? `quota ${l.quota.points} per ${+(l.quota.periodMs / 3_600_000).toFixed(3)} h` : '',
  ]
    .filter(Boolean)
    .join('; ') || '(none)'

/** One audit event, as a line of the key's history. */
function eventText(e: EventView, keyId: string): string {
  const d = e.detail ?? {}
  const link = (id: unknown) => `<a class="mono" href="/keys/${esc(id)}">${esc(id)}</a>`
  switch (e.action) {
    case 'key.create':
      return `created${Array.isArray(d.scopes) ? `, scopes ${esc((d.scopes as string[]).join(' ') || '(none)')}` : ''}`
    case 'key.rotate':
      return e.keyId === keyId
        ? `rotated: replaced by ${link(d.replacedBy)}${d.notAfter ? `, works until ${esc(d.notAfter)}` : ''}`
        : `created by rotating ${link(e.keyId)}`
    case 'key.update':
      return `changed ${esc(
        Object.keys(d)
          .filter((f) => f !== 'ifVersion')
          .join(', ') || 'nothing',
      )}`
    case 'key.revoke':
      return 'revoked'
    default:
      return esc(e.action)
  }
}

/** Everything the detail page shows. */
export interface KeyPageInput {
  k: KeyView
  user: PageUser
  grant: KeyGrant
  now: number
  usage: { from: string; to: string; days: UsageDayView[]; totals: { rejected: Record<string, number>; lastUsedAt?: string } }
  hasUsage: boolean
  lastUsedDays: number
  history: EventView[]
  /** When a change reaches other instances, if later than now (`service.propagation()`). */
  propagation: string | undefined
  notice?: string
  error?: string
  /** A refused edit's form: shown again as sent, so nothing typed is lost. */
  sent?: URLSearchParams
}

/** The detail page's body. */
export function keyPageBody(p: KeyPageInput): string {
  const { k, user: u, now } = p
  const keyId = k.keyId
  const superseded = k.replacedBy !== undefined
  const live = k.status === 'active'
  const later = p.propagation ?? 'Other instances are told at once (fan-out).'
  const dl = [
    ['Principal', esc(k.principal)],
    ['Status', esc(k.test ? `${k.status} (test key)` : k.status)],
    ['Scopes', esc(k.scopes.join(' ') || '(none)')],
    ['Created', esc(k.createdAt)],
    ['Last used', esc(lastUsedText(p.usage.totals.lastUsedAt, now, p.lastUsedDays, p.hasUsage))],
    ...(k.expiresAt ? [['Expires', esc(k.expiresAt)]] : []),
    ['Rate limits', esc(limitsText(k.rateLimits))],
    ...(k.metadata ? [['Metadata', `<code>${esc(JSON.stringify(k.metadata))}</code>`]] : []),
    ...(k.notAfter ? [['Works until', esc(k.notAfter)]] : []),
    ...(k.revokedAt ? [['Revoked', esc(k.revokedAt)]] : []),
    ...(k.replacedBy ? [['Replaced by', `<a class="mono" href="/keys/${esc(k.replacedBy)}">${esc(k.replacedBy)}</a>`]] : []),
  ]
    .map(([t, d]) => `<dt>${esc(t)}</dt><dd>${d}</dd>`)
    .join('')
  const reasons = Object.entries(p.usage.totals.rejected)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `<tr><td><code>${esc(code)}</code></td><td>${n}</td></tr>`)
    .join('')
  const history = p.history
    .map(
      (e) =>
        `<tr><td class="nowrap">${esc(e.at.slice(0, 19).replace('T', ' '))}</td><td>${esc(e.actor)}</td><td>${eventText(e, keyId)}</td></tr>`,
    )
    .join('')
  const notices = `${p.error ? `<p class="warn" role="alert">${p.sent ? 'Not saved: ' : ''}${esc(p.error)}${p.sent ? ' (<a href="#edit">see the form</a>)' : ''}</p>` : ''}${p.notice ? `<div class="notice" role="status"><p>${esc(p.notice)}</p></div>` : ''}`
  const supersededNote = superseded
    ? `<p class="notice">This key was rotated: it is replaced by <a class="mono" href="/keys/${esc(k.replacedBy)}">${esc(k.replacedBy)}</a>${k.notAfter ? ` and works until ${esc(k.notAfter)}` : ''}. Edit or rotate the new key; this one can only be revoked early.</p>`
    : ''
  const actions = live && !superseded ? `${editForm(p)}${rotateForm(u, keyId, later)}` : ''
  const revoke = live
    ? `<h2>Revoke</h2><p class="hint">Requests signed with it are refused at once by servers reading the store directly. ${esc(later)}</p>
<form method="post" action="/keys/${esc(keyId)}/revoke" data-confirm="Revoke ${esc(keyId)}? ${esc(later)}">${csrfField(u)}
<p><input id="confirm" name="confirm" type="checkbox" value="yes" required> <label for="confirm" class="check">I understand that requests signed with this key will fail</label></p><button class="danger" type="submit">Revoke key</button></form>`
    : ''
  return `${notices}${supersededNote}<dl>${dl}</dl>
<h2>Usage, last 30 days</h2>${usageChart(p.usage.days, p.usage.from, p.usage.to)}
<h2>Rejections by reason</h2>${tableRegion('Rejections by reason', `<table><thead><tr><th scope="col">Code</th><th scope="col">Requests</th></tr></thead><tbody>${reasons || '<tr><td colspan="2">None</td></tr>'}</tbody></table>`)}
<h2>History</h2>${tableRegion('Key history', `<table><caption>Who changed this key, newest first</caption><thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">What</th></tr></thead><tbody>${history || '<tr><td colspan="3">Nothing recorded</td></tr>'}</tbody></table>`)}
${actions}${revoke}`
}

function rotateForm(u: PageUser, keyId: string, later: string): string {
  return `<h2>Rotate</h2><p class="hint">A new key with the same principal, scopes and limits; the old one keeps working for the grace period, then stops. ${esc(later)}</p>
<form method="post" action="/keys/${esc(keyId)}/rotate" class="inline">${csrfField(u)}
<div><label for="grace">Old key keeps working for <span class="hint">(hours)</span></label><input id="grace" name="graceHours" type="number" min="0" max="720" value="24"></div><button type="submit">Rotate key</button></form>`
}

function editForm(p: KeyPageInput): string {
  const { k, grant, user: u } = p
  // The value a field shows: as sent when an edit was refused, else the key's.
  const v = (name: string, current: unknown) => esc(p.sent?.has(name) ? p.sent.get(name) : current)
  const scopeHint = grant.scopes ? ` (you may add: ${esc(grant.scopes.join(' ') || 'none')})` : ''
  const expiryHint = grant.extendExpiry === false ? ' — you may shorten its life, not extend it' : ''
  const max = grant.extendExpiry === false && k.expiresAt ? ` max="${esc(k.expiresAt.slice(0, 16))}"` : ''
  const l = k.rateLimits
  const limits =
    grant.editLimits === false
      ? `<p class="hint">Rate limits, quota and metadata are set by the operator.</p>`
      : `<fieldset><legend>Rate limit</legend><div class="row"><div><label for="ratePoints">Requests</label><input id="ratePoints" name="ratePoints" type="number" min="1" step="1" value="${v('ratePoints', l?.rate?.points ?? '')}"></div>
<div><label for="rateWindowSeconds">per <span class="hint">(seconds)</span></label><input id="rateWindowSeconds" name="rateWindowSeconds" type="number" min="1" step="any" value="${v('rateWindowSeconds', l?.rate ? l.rate.windowMs / 1000 : '')}"></div></div></fieldset>
<fieldset><legend>Quota</legend><div class="row"><div><label for="quotaPoints">Requests</label><input id="quotaPoints" name="quotaPoints" type="number" min="1" step="1" value="${v('quotaPoints', l?.quota?.points ?? '')}"></div>
<div><label for="quotaPeriodHours">per <span class="hint">(hours)</span></label><input id="quotaPeriodHours" name="quotaPeriodHours" type="number" min="0.001" step="any" value="${v('quotaPeriodHours', l?.quota ? +(l.quota.periodMs / 3_600_000).toFixed(3) : '')}"></div></div></fieldset>
<label for="metadata">Metadata <span class="hint">(a JSON object; empty for none)</span></label><textarea id="metadata" name="metadata" spellcheck="false">${v('metadata', k.metadata ? JSON.stringify(k.metadata, null, 2) : '')}</textarea>`
  const refused = p.sent && p.error ? `<p class="warn">Not saved: ${esc(p.error)}</p>` : ''
  return `<h2 id="edit">Edit</h2>${refused}<p class="hint">Leave a field as it is to keep it. ${esc(p.propagation ?? 'Other instances are told at once (fan-out).')}</p>
<form method="post" action="/keys/${esc(k.keyId)}/edit">${csrfField(u)}<input type="hidden" name="version" value="${esc(k.version ?? '')}">
<label for="scopes">Scopes <span class="hint">separated by spaces${scopeHint}</span></label><input id="scopes" name="scopes" type="text" value="${v('scopes', k.scopes.join(' '))}">
<label for="expiresAt">Expires <span class="hint">(UTC; empty: never${expiryHint})</span></label><input id="expiresAt" name="expiresAt" type="datetime-local"${max} value="${v('expiresAt', k.expiresAt ? k.expiresAt.slice(0, 16) : '')}">
${limits}<p><button type="submit">Save changes</button></p></form>`
}
