// Next.js 15 route handler on the edge runtime.
import { handle } from '../../../../src/handler'

export const runtime = 'edge'
export const POST = handle
export const DELETE = handle
export const GET = handle
