// Server-rendered dashboard pages: no build step, no framework, no inline script (the CSP
// forbids it). Every interpolated value goes through esc().

/** HTML-escape text and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`)
}

export const CSS = `
:root{color-scheme:light;--fg:#1a1a2e;--muted:#555;--line:#d0d4dc;--accent:#2446a8;--bad:#a11d2d;--ok:#1d7a3a;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
*{box-sizing:border-box}body{margin:0;color:var(--fg);line-height:1.45}
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #f5a623;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
header strong{margin-right:auto}nav{display:flex;flex-wrap:wrap;gap:.75rem}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}dd{overflow-wrap:anywhere}h2{font-size:1.1rem;margin-top:1.5rem}
.table{overflow-x:auto;max-width:100%;margin:.5rem 0;background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)),linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) 100% 0,radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.22),transparent),radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.22),transparent) 100% 0;background-repeat:no-repeat;background-size:40px 100%,40px 100%,14px 100%,14px 100%;background-attachment:local,local,scroll,scroll}
table{border-collapse:collapse;width:100%;min-width:32rem}caption{caption-side:top;text-align:left;color:var(--muted);font-size:.9rem;padding:.25rem 0}
.table:focus{outline:3px solid #f5a623;outline-offset:2px}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
a.key-id,.nowrap{white-space:nowrap;word-break:normal}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}.hint{color:var(--muted);font-size:.9rem;font-weight:400}
input,select{font:inherit;padding:.35rem .5rem;border:1px solid #8a8f99;border-radius:4px;max-width:100%}
input[type=text],input[type=datetime-local],input[type=number]{width:22rem}
button{font:inherit;padding:.4rem .9rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}button.plain{background:#fff;color:var(--accent)}
.status-active{color:var(--ok)}.status-revoked,.status-expired{color:var(--bad)}
.secret{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;padding:.75rem;border:2px solid var(--bad);border-radius:6px;background:#fff6f6}
.secret code{flex:1 1 16rem}.warn{color:var(--bad);font-weight:600}
.chart{width:100%;height:auto;max-width:48rem;border:1px solid var(--line);font-family:inherit}
.chart text{font-size:11px;fill:#333}.chart .axis{font-size:12px;font-weight:600}.chart .value{font-size:9px;fill:#1a1a2e}.chart g:hover rect[fill=transparent]{fill:#eef1f8}
figure{margin:0}.legend{list-style:none;padding:0;margin:.5rem 0 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}.legend li{display:flex;align-items:center;gap:.35rem}
.per-day{min-width:20rem}.per-day th,.per-day td,th code{white-space:nowrap;word-break:normal}.notice{padding:.6rem .8rem;border-left:4px solid var(--accent);background:#f2f5fc;margin:.75rem 0}
textarea{font:inherit;font-family:ui-monospace,Menlo,Consolas,monospace;padding:.35rem .5rem;border:1px solid #8a8f99;border-radius:4px;width:32rem;max-width:100%;min-height:6rem}
fieldset{border:1px solid var(--line);border-radius:4px;margin:.75rem 0;padding:.25rem .75rem .75rem}legend{font-weight:600;padding:0 .25rem}
.row{display:flex;flex-wrap:wrap;gap:0 1rem}.row input[type=number]{width:10rem}
label.check{display:inline;font-weight:400}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
@media (max-width:30rem){input[type=text],input[type=datetime-local],input[type=number],.row input[type=number]{width:100%}.row>div{flex:1 1 100%}dl{grid-template-columns:1fr}dd{margin-bottom:.35rem}
.chart text{font-size:19px}.chart .axis{font-size:19px}.chart .value{font-size:15px}}
`

export const JS = `
document.addEventListener('click', async (e) => {
  const b = e.target.closest('[data-copy]'); if (!b) return
  const text = document.getElementById(b.getAttribute('data-copy')).textContent
  try { await navigator.clipboard.writeText(text); b.textContent = 'Copied' } catch { b.textContent = 'Select and copy' }
})
document.addEventListener('submit', (e) => {
  const msg = e.target.getAttribute('data-confirm'); if (msg && !confirm(msg)) e.preventDefault()
})
`

export interface PageUser {
  role: 'operator' | 'partner'
  principal?: string
  /** The operator's name (`sigil admin login --operator NAME`). */
  name?: string
  csrf: string
}

/** The page frame: skip link, header with navigation and sign-out, main landmark. */
export function layout(title: string, body: string, user?: PageUser): string {
  const nav = user
    ? `<nav aria-label="Main"><a href="/keys">Keys</a>${user.role === 'operator' ? '<a href="/partners/invite">Invite a partner</a>' : ''}<a href="/events">Audit log</a></nav>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${esc(user.csrf)}"><button class="plain" type="submit">Sign out</button></form>`
    : ''
  const who = user
    ? `<span class="hint">${user.role === 'operator' ? `Operator${user.name ? ` ${esc(user.name)}` : ''}` : `Partner ${esc(user.principal)}`}</span>`
    : ''
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Sigil</title><link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a><header><strong>Sigil keys</strong>${who}${nav}</header>
<main id="main"><h1>${esc(title)}</h1>${body}</main></body></html>`
}

export const csrfField = (u: PageUser) => `<input type="hidden" name="_csrf" value="${esc(u.csrf)}">`

/** A token shown once, with a copy button and the warning that it will not be shown again. */
export function secretBox(token: string): string {
  return `<p class="warn" role="alert">Copy this token now: it is shown once and cannot be recovered. Store it like a password.</p>
<div class="secret"><code id="token">${esc(token)}</code><button type="button" data-copy="token">Copy</button></div>`
}

/** One day of a key's usage, as the usage source gives it. */
export interface UsageDayView {
  date: string
  accepted: number
  rejected: Record<string, number>
}

/** A scrollable table region: scrolls sideways inside its frame on a narrow screen, by keyboard too. */
export function tableRegion(label: string, table: string): string {
  return `<div class="table" role="region" aria-label="${esc(label)}" tabindex="0">${table}</div>`
}

const ACCEPTED_COLOR = '#2446a8'
/** Rejection colours, by the reason's rank in the range; the rest share the last ("other"). */
const REJECTED_COLORS = ['#a11d2d', '#c4661f', '#7b3fa0', '#5c6370']
const MAX_REASONS = REJECTED_COLORS.length - 1

/** 1234 → 1234, 12345 → 12.3k, 1234567 → 1.2M: a bar's value where a bar is narrow. */
export function shortCount(n: number): string {
  if (n < 10_000) return String(n)
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`
  return `${(n / 1_000_000).toFixed(1)}M`
}

/** Axis ticks: 0 and round steps (1, 2 or 5 × 10^k) up to at least `max`, about five of them. */
export function axisTicks(max: number): number[] {
  const raw = Math.max(1, max) / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = Math.max(1, ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag)
  const ticks = [0]
  while ((ticks[ticks.length - 1] as number) < max || ticks.length < 2) ticks.push((ticks[ticks.length - 1] as number) + step)
  return ticks
}

const swatch = (color: string) =>
  `<svg class="swatch" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${color}"/></svg>`

/**
 * Requests per day as a stacked bar chart (inline SVG, no script): accepted, then rejected by
 * reason; labelled axes (requests, UTC dates), each day's total above its bar and its detail in
 * a tooltip; a legend; and the same numbers in a table per day (the chart's text alternative).
 */
export function usageChart(days: UsageDayView[], from: string, to: string): string {
  const byDate = new Map(days.map((d) => [d.date, d]))
  const all: UsageDayView[] = []
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const date = new Date(t).toISOString().slice(0, 10)
    all.push(byDate.get(date) ?? { date, accepted: 0, rejected: {} })
  }
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)
  const reasonTotals = new Map<string, number>()
  for (const d of all) for (const [c, n] of Object.entries(d.rejected)) reasonTotals.set(c, (reasonTotals.get(c) ?? 0) + n)
  const reasons = [...reasonTotals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c)
  const shown = reasons.length > MAX_REASONS + 1 ? reasons.slice(0, MAX_REASONS) : reasons
  const other = reasons.slice(shown.length)
  const series = [
    ...shown.map((c, i) => ({ name: c, color: REJECTED_COLORS[i] as string, of: (d: UsageDayView) => d.rejected[c] ?? 0 })),
    ...(other.length
      ? [
          {
            name: 'other',
            color: REJECTED_COLORS[MAX_REASONS] as string,
            of: (d: UsageDayView) => other.reduce((a, c) => a + (d.rejected[c] ?? 0), 0),
          },
        ]
      : []),
  ]
  const max = Math.max(0, ...all.map((d) => d.accepted + sum(d.rejected)))
  const ticks = axisTicks(max)
  const top = ticks[ticks.length - 1] as number
  const [w, h, left, right, upper, lower] = [640, 260, 56, 28, 22, 46]
  const plotW = w - left - right
  const plotH = h - upper - lower
  const y = (v: number) => upper + plotH - (v / top) * plotH
  const bw = plotW / Math.max(1, all.length)
  const labelEvery = Math.ceil(all.length / 7)
  const grid = ticks
    .map(
      (v) =>
        `<line x1="${left}" x2="${w - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#d0d4dc"/><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${shortCount(v)}</text>`,
    )
    .join('')
  const bars = all
    .map((d, i) => {
      const x = left + i * bw
      const rejected = sum(d.rejected)
      const total = d.accepted + rejected
      const detail = Object.entries(d.rejected)
        .sort((a, b) => b[1] - a[1])
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')
      let base = 0
      const rects = [{ color: ACCEPTED_COLOR, n: d.accepted }, ...series.map((s) => ({ color: s.color, n: s.of(d) }))]
        .filter((r) => r.n > 0)
        .map((r) => {
          const rect = `<rect x="${(x + 1).toFixed(1)}" y="${y(base + r.n).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(y(base) - y(base + r.n)).toFixed(1)}" fill="${r.color}"/>`
          base += r.n
          return rect
        })
        .join('')
      const value = total
        ? `<text x="${(x + bw / 2).toFixed(1)}" y="${(y(total) - 4).toFixed(1)}" text-anchor="middle" class="value">${shortCount(total)}</text>`
        : ''
      const label =
        (all.length - 1 - i) % labelEvery === 0
          ? `<line x1="${(x + bw / 2).toFixed(1)}" x2="${(x + bw / 2).toFixed(1)}" y1="${upper + plotH}" y2="${upper + plotH + 4}" stroke="#555"/><text x="${(x + bw / 2).toFixed(1)}" y="${upper + plotH + 17}" text-anchor="middle">${esc(d.date.slice(5))}</text>`
          : ''
      return `<g><title>${esc(d.date)}: ${d.accepted} accepted, ${rejected} rejected${detail ? ` (${esc(detail)})` : ''}</title><rect x="${x.toFixed(1)}" y="${upper}" width="${bw.toFixed(1)}" height="${plotH}" fill="transparent"/>${rects}${value}${label}</g>`
    })
    .join('')
  const accepted = all.reduce((a, d) => a + d.accepted, 0)
  const rejected = all.reduce((a, d) => a + sum(d.rejected), 0)
  const axes = `<line x1="${left}" x2="${left}" y1="${upper}" y2="${upper + plotH}" stroke="#555"/><line x1="${left}" x2="${w - right}" y1="${upper + plotH}" y2="${upper + plotH}" stroke="#555"/>
<text x="14" y="${upper + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${upper + plotH / 2})" class="axis">Requests per day</text>
<text x="${left + plotW / 2}" y="${h - 6}" text-anchor="middle" class="axis">Day (UTC, month-day)</text>`
  const legend = [{ name: 'accepted', color: ACCEPTED_COLOR }, ...series.map((s) => ({ name: `rejected: ${s.name}`, color: s.color }))]
    .map((l) => `<li>${swatch(l.color)} ${esc(l.name)}</li>`)
    .join('')
  const rows = all
    .filter((d) => d.accepted + sum(d.rejected) > 0)
    .map(
      (d) =>
        `<tr><th scope="row">${esc(d.date)}</th><td>${d.accepted}</td><td>${sum(d.rejected)}</td>${reasons.map((c) => `<td>${d.rejected[c] ?? 0}</td>`).join('')}</tr>`,
    )
    .join('')
  const head = `<tr><th scope="col">Date (UTC)</th><th scope="col">Accepted</th><th scope="col">Rejected</th>${reasons.map((c) => `<th scope="col">Rejected: <code>${esc(c)}</code></th>`).join('')}</tr>`
  const table = tableRegion(
    'Requests per day',
    `<table class="per-day"><caption>Requests per day (UTC)</caption><thead>${head}</thead><tbody>${rows || `<tr><td colspan="${3 + reasons.length}">No requests in this range</td></tr>`}</tbody></table>`,
  )
  const empty =
    max === 0
      ? `<text x="${left + plotW / 2}" y="${upper + plotH / 2}" text-anchor="middle" class="axis">No requests in this range</text>`
      : ''
  return `<figure class="usage"><svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="Requests per day from ${esc(from)} to ${esc(to)}: ${accepted} accepted, ${rejected} rejected. The table below has each day's numbers.">${grid}${axes}${bars}${empty}</svg>
<figcaption><ul class="legend">${legend}</ul><p class="hint">${accepted} accepted, ${rejected} rejected from ${esc(from)} to ${esc(to)}. Hover a bar for the day's numbers; the table lists every day with requests.</p></figcaption></figure>
${table}`
}
