import { createServer } from 'node:http'
import { createVerifier } from '@sigil/server'
import { sendProblem, verifyNodeRequest } from '@sigil/server/node'

// Compiled once, at start-up: an unset or short ACME_SECRET stops here, naming kPartnerAcme01.
const verifier = createVerifier({ keys: { kPartnerAcme01: process.env.ACME_SECRET }, authority: 'api.example.com' })

export const server = createServer(async (req, res) => {
  try {
    const { principal, body } = await verifyNodeRequest(req, verifier)
    res.end(JSON.stringify({ hello: principal, received: body?.byteLength ?? 0 }))
  } catch (error) {
    sendProblem(res, error) // 401/403/413/429/503 as application/problem+json
  }
})
