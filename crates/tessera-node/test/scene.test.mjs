// The addon on the test kit's scene (real portal, hub agents and a runner on the kernel
// keyring), run by tests/node/main.rs with Node's test runner. Tests in this file run in
// order: the runner's checks move its clock forward.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const tessera = require('../index.js')

function env(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run these tests through tests/node/main.rs`)
  return value
}

const trust = new tessera.TrustSet(readFileSync(env('TESSERA_SCENE_TRUST'), 'utf8'))
const now = Number(env('TESSERA_SCENE_NOW'))
const graceAt = Number(env('TESSERA_SCENE_GRACE_AT'))
const pastGraceAt = Number(env('TESSERA_SCENE_PAST_GRACE_AT'))
const product = env('TESSERA_SCENE_PRODUCT')
const licenseText = readFileSync(env('TESSERA_SCENE_LICENSE'), 'utf8')
const hub = { socket: env('TESSERA_SCENE_HUB_SOCKET'), product }
const runner = { stateDir: env('TESSERA_SCENE_RUNNER_STATE'), keystore: 'keyutils' }

test('a valid license verifies, with its terms', () => {
  const check = tessera.verifyLicense(licenseText, trust, { product, now })
  assert.equal(check.status, 'valid', check.reason)
  assert.equal(check.permitsRunning, true)
  assert.equal(check.license.id, env('TESSERA_SCENE_LICENSE_ID'))
  assert.deepEqual(check.license.features, env('TESSERA_SCENE_FEATURES').split(','))
  assert.equal(check.license.runnerLimit, Number(env('TESSERA_SCENE_RUNNER_LIMIT')))
  assert.equal('key' in check.license, false, 'the license key never leaves the library')
  // Bytes work as well as text.
  assert.equal(tessera.verifyLicense(Buffer.from(licenseText), trust, { now }).status, 'valid')
})

test('a tampered license, an expired one and another product are refused', () => {
  const tampered = tessera.verifyLicense(readFileSync(env('TESSERA_SCENE_TAMPERED')), trust, { now })
  assert.equal(tampered.status, 'bad_signature')
  assert.equal(tampered.permitsRunning, false)
  assert.equal(tampered.license, undefined)
  const expired = tessera.verifyLicense(licenseText, trust, { now: Number(env('TESSERA_SCENE_EXPIRED_AT')) })
  assert.equal(expired.status, 'expired')
  assert.equal(expired.license.id, env('TESSERA_SCENE_LICENSE_ID'))
  assert.equal(tessera.verifyLicense(licenseText, trust, { product: 'other-product', now }).status, 'wrong_product')
})

test('a call that cannot be made throws an Error with a stable code', async () => {
  assert.throws(() => new tessera.TrustSet('not a trust set'), (e) => e instanceof Error && e.code === 'bad_trust')
  assert.throws(() => tessera.verifyLicense(licenseText, trust, { product: 'Not A Product!' }), { code: 'bad_argument' })
  assert.throws(() => tessera.runnerCheck({ stateDir: '/tmp', keystore: 'floppy' }), { code: 'bad_argument' })
  assert.throws(() => tessera.hubStatus(trust, { socket: '/nonexistent/hub.sock' }), (e) => {
    return e instanceof Error && e.code === 'hub_unreachable' && e.message.includes('/nonexistent/hub.sock')
  })
  await assert.rejects(tessera.hubStatusAsync(trust, { socket: '/nonexistent/hub.sock' }), {
    code: 'hub_unreachable',
  })
  assert.throws(() => tessera.verifyLicense(licenseText, {}, {}), Error)
})

test('the hub application decides from the agent: valid, grace, grace_expired, revoked', async () => {
  const valid = tessera.hubStatus(trust, { ...hub, now })
  assert.equal(valid.status, 'valid', valid.reason)
  assert.equal(valid.mode, 'online')
  assert.equal(valid.agentStatus, 'valid')
  assert.deepEqual(valid.license.features, env('TESSERA_SCENE_FEATURES').split(','))
  const grace = await tessera.hubStatusAsync(trust, { ...hub, now: graceAt })
  assert.equal(grace.status, 'grace', grace.reason)
  assert.equal(grace.permitsRunning, true)
  assert.ok(grace.graceLeftSecs > 20 * 3600, String(grace.graceLeftSecs))
  assert.equal(tessera.hubStatus(trust, { ...hub, now: pastGraceAt }).status, 'grace_expired')
  const revoked = tessera.hubStatus(trust, { socket: env('TESSERA_SCENE_REVOKED_HUB_SOCKET'), now })
  assert.equal(revoked.status, 'revoked', revoked.reason)
  assert.equal(revoked.permitsRunning, false)
})

test('a runner checks offline: valid, then grace, then grace_expired', async () => {
  const valid = tessera.runnerCheck({ ...runner, now })
  assert.equal(valid.status, 'valid', valid.reason)
  assert.equal(valid.runner, 'scene-runner')
  assert.ok(valid.license.features.includes('sso'))
  const grace = await tessera.runnerCheckAsync({ ...runner, now: graceAt })
  assert.equal(grace.status, 'grace', grace.reason)
  assert.ok(grace.graceLeftSecs > 20 * 3600)
  assert.equal(tessera.runnerCheck({ ...runner, now: pastGraceAt }).status, 'grace_expired')
  // A time passed in decides the answer only: it never becomes the runner's latest time
  // seen, so the check at the real time is still valid...
  assert.equal(tessera.runnerCheck({ ...runner, now }).status, 'valid')
  // ...and a time far behind what the runner has really seen is a rolled-back clock.
  assert.equal(tessera.runnerCheck({ ...runner, now: now - 86_400 }).status, 'clock_rollback')
})

test('index.d.ts declares exactly what the addon exports', () => {
  const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
  const declared = [...dts.matchAll(/^export declare (?:function|class|const) (\w+)/gm)].map((m) => m[1]).sort()
  assert.deepEqual(Object.keys(tessera).sort(), declared)
})
