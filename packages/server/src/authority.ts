import { normalizeAuthority } from '@sigil/core'
import type { VerifierConfig } from './options.js'

type Get = (name: string) => string | null

/**
 * The authority and scheme a signature is checked against (SPEC §2): the configured public
 * authority wins; forwarding headers count only with `trustProxy`; else the connection's host
 * (Host or :authority as the adapter read it).
 */
export function resolveOrigin(
  get: Get,
  connectionScheme: string,
  connectionHost: string,
  cfg: VerifierConfig,
): { authority: string; scheme: string } {
  let scheme = cfg.scheme ?? connectionScheme
  let host: string | null = null
  if (cfg.trustProxy) {
    const fwd = get('forwarded')
    if (fwd) {
      const first = fwd.split(',')[0] as string
      const h = /(?:^|;)\s*host="?([^";]+)"?/i.exec(first)
      const p = /(?:^|;)\s*proto="?([^";]+)"?/i.exec(first)
      if (h) host = h[1] as string
      if (p && !cfg.scheme) scheme = (p[1] as string).toLowerCase()
    } else {
      const xh = get('x-forwarded-host')
      const xp = get('x-forwarded-proto')
      if (xh) host = (xh.split(',')[0] as string).trim()
      if (xp && !cfg.scheme) scheme = (xp.split(',')[0] as string).trim().toLowerCase()
    }
  }
  if (cfg.authority) return { authority: normalizeAuthority(cfg.authority, scheme), scheme }
  host ??= connectionHost
  return { authority: normalizeAuthority(host, scheme), scheme }
}
