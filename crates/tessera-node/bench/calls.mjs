// Time per call of verifyLicense, runnerCheck and hubStatus from Node.js, on the scene the
// Rust benchmark made (crates/tessera/benches/bindings.rs reads the one JSON line printed).
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const tessera = require('../index.js')
const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`) })()

const BATCHES = 15
const CALLS = 200
const trust = new tessera.TrustSet(readFileSync(env('TESSERA_SCENE_TRUST'), 'utf8'))
const license = readFileSync(env('TESSERA_SCENE_LICENSE'), 'utf8')
const now = Number(env('TESSERA_SCENE_NOW'))
const runner = { stateDir: env('TESSERA_SCENE_RUNNER_STATE'), keystore: 'keyutils', now }
// The hub agent's latest time is the wall clock's: asked at the system time (no `now`).
const hub = { socket: env('TESSERA_SCENE_HUB_SOCKET') }

// The best of the batches' mean time per call.
function bestPerCall(call) {
  let best = Infinity
  for (let b = 0; b < BATCHES; b++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < CALLS; i++) {
      if (!call().permitsRunning) throw new Error('the check said no')
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / CALLS)
  }
  return best
}

const verify_ns = bestPerCall(() => tessera.verifyLicense(license, trust, { now }))
const runner_ns = bestPerCall(() => tessera.runnerCheck(runner))
const hub_ns = bestPerCall(() => tessera.hubStatus(trust, hub))
console.log(JSON.stringify({ verify_ns, runner_ns, hub_ns }))
