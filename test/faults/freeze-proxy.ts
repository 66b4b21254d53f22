import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 for fault tests. `freeze()` stops forwarding on every open connection
 * without closing it — no FIN, no RST, bytes just stop — as when a host vanishes or a network path
 * black-holes. `blackhole(true)` makes new connections hang the same way (accepted, never
 * forwarded); with `blackhole(false)` new connections go through again: the old endpoint gone, a
 * working one reachable at the same address.
 */
export interface FreezeProxy {
  readonly port: number
  /** Connections currently forwarding. */
  readonly live: number
  freeze(): void
  blackhole(on: boolean): void
  close(): Promise<void>
}

export async function freezeProxy(targetPort: number): Promise<FreezeProxy> {
  const live = new Set<{ down: Socket; up: Socket }>()
  const held = new Set<Socket>()
  let holeNew = false
  const server = createServer((down) => {
    down.on('error', () => {})
    if (holeNew) {
      down.pause()
      held.add(down)
      return
    }
    const up = connect(targetPort, '127.0.0.1')
    up.on('error', () => {})
    const pair = { down, up }
    live.add(pair)
    down.pipe(up)
    up.pipe(down)
    const end = () => {
      if (!live.delete(pair)) return // frozen: keep both ends open
      down.destroy()
      up.destroy()
    }
    down.on('close', end)
    up.on('close', end)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    get live() {
      return live.size
    },
    freeze() {
      for (const pair of live) {
        pair.down.unpipe(pair.up)
        pair.up.unpipe(pair.down)
        pair.down.pause()
        pair.up.pause()
        held.add(pair.down)
        held.add(pair.up)
      }
      live.clear()
    },
    blackhole(on) {
      holeNew = on
    },
    async close() {
      for (const s of held) s.destroy()
      for (const { down, up } of live) {
        down.destroy()
        up.destroy()
      }
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
