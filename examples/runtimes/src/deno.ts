// deno run --allow-net --allow-env --allow-read src/deno.ts — prints the URL.
import { handle } from './handler.ts'

declare const Deno: {
  serve(o: { port: number; hostname: string; onListen(a: { port: number }): void }, h: (r: Request) => Promise<Response>): unknown
  env: { get(n: string): string | undefined }
}
Deno.serve(
  {
    port: Number(Deno.env.get('PORT') ?? 0),
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`),
  },
  handle,
)
