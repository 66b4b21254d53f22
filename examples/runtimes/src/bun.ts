// bun src/bun.ts — PORT=0 picks a free port; prints the URL.
import { handle } from './handler.ts'

declare const Bun: { serve(o: { port: number; hostname: string; fetch: (r: Request) => Promise<Response> }): { port: number } }
const server = Bun.serve({ port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1', fetch: handle })
console.log(`listening on http://127.0.0.1:${server.port}`)
