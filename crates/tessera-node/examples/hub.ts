// A hub application written for Node.js gates its start-up and features on the hub's
// standing (docs/INTEGRATION.md). Type-checked with `tsc --strict` and run by the test suite.
import { readFileSync } from 'node:fs'
import { type HubStatus, Status, TrustSet, hubStatus } from '@tessera/node'

// The vendor's public keys, shipped inside the product (here: a file beside it).
const trust = new TrustSet(readFileSync(process.env.VENDOR_TRUST_FILE ?? 'vendor.pub', 'utf8'))

function licensed(socket: string): HubStatus {
  try {
    return hubStatus(trust, { socket, product: 'acme-hub', timeoutMs: 2000 })
  } catch (e) {
    // No answer at all: the license agent is not running, or this user may not ask it.
    const { code, message } = e as Error & { code?: string }
    console.error(`cannot ask the license agent (${code}): ${message}`)
    process.exit(69)
  }
}

const hub = licensed(process.argv[2] ?? '/var/lib/tessera-hub/status.sock')
console.log(`license ${hub.status}: ${hub.reason}`)
if (!hub.permitsRunning || hub.license === undefined) process.exit(1)
if (hub.status === Status.Grace) {
  console.log(`warning: the license server has not been reached; ${hub.graceLeftSecs} seconds of grace left`)
}
if (hub.license.features.includes('sso')) console.log('single sign-on enabled')
console.log(`up to ${hub.license.runnerLimit} runners`)
