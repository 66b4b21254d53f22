// Next.js 15 route handler on the Node runtime.
import { handle } from '../../../../src/handler'

export const POST = handle
export const DELETE = handle
export const GET = handle
