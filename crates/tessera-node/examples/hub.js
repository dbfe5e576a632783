// A hub application written for Node.js gates its start-up and features on the hub's
// standing (docs/INTEGRATION.md):  node examples/hub.js /var/lib/tessera-hub/status.sock
'use strict'
const { TrustSet, hubStatus } = require('@tessera/node')

// The vendor's public keys, shipped inside the product (here: a file beside it).
const trust = new TrustSet(require('node:fs').readFileSync(process.env.VENDOR_TRUST_FILE, 'utf8'))

function licensed(socket) {
  try {
    return hubStatus(trust, { socket, product: 'acme-hub' })
  } catch (e) {
    // No answer at all: the license agent is not running, or this user may not ask it.
    console.error(`cannot ask the license agent (${e.code}): ${e.message}`)
    process.exit(69)
  }
}

const hub = licensed(process.argv[2] ?? '/var/lib/tessera-hub/status.sock')
console.log(`license ${hub.status}: ${hub.reason}`)
if (!hub.permitsRunning) process.exit(1)
if (hub.status === 'grace') {
  console.log(`warning: the license server has not been reached; ${hub.graceLeftSecs} seconds of grace left`)
}
const features = new Set(hub.license.features)
if (features.has('sso')) console.log('single sign-on enabled')
console.log(`up to ${hub.license.runnerLimit} runners`)
