// Every argument of every call, checked: a wrong type, a missing one, a misspelt option,
// NaN, Infinity, a negative, fractional or too large number, an empty string or a NUL is one
// `bad_argument` Error naming the argument, thrown (or, for the async calls, rejected) before
// anything is asked. Then the hub call's deadline against an agent that accepts and never
// answers. Run by tests/node/main.rs with a vendor's trust set and license (no scene).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
const tessera = require('../index.js')

function env(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run these tests through tests/node/main.rs`)
  return value
}

const trustText = readFileSync(env('TESSERA_TEST_TRUST'), 'utf8')
const trust = new tessera.TrustSet(trustText)
const license = readFileSync(env('TESSERA_TEST_LICENSE'), 'utf8')
const product = env('TESSERA_TEST_PRODUCT')
const now = Number(env('TESSERA_TEST_NOW'))
const runner = { stateDir: '/nonexistent/runner-state', keystore: 'keyutils', now }
const hub = { socket: '/nonexistent/hub.sock', now }

// [what the call gets wrong, the call, the argument its message must name]
const verifyRows = [
  ['no license', () => tessera.verifyLicense(undefined, trust), 'license'],
  ['a number as license', () => tessera.verifyLicense(42, trust), 'license'],
  ['an object as license', () => tessera.verifyLicense({ text: license }, trust), 'license'],
  ['no trust', () => tessera.verifyLicense(license), 'trust'],
  ['a plain object as trust', () => tessera.verifyLicense(license, {}), 'trust'],
  ['the trust text instead of a TrustSet', () => tessera.verifyLicense(license, trustText), 'trust'],
  ['a string as options', () => tessera.verifyLicense(license, trust, 'acme-hub'), 'options'],
  ['an array as options', () => tessera.verifyLicense(license, trust, [product]), 'options'],
  ['a misspelt product option', () => tessera.verifyLicense(license, trust, { prodct: 'other', now }), 'prodct'],
  ['a number as product', () => tessera.verifyLicense(license, trust, { product: 7, now }), 'product'],
  ['an empty product', () => tessera.verifyLicense(license, trust, { product: '', now }), 'product'],
  ['a product with a NUL', () => tessera.verifyLicense(license, trust, { product: 'acme\0hub', now }), 'product'],
  ['a product that is no product id', () => tessera.verifyLicense(license, trust, { product: 'Not A Product!', now }), 'product'],
]
const nowRows = [
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['a negative time', -1],
  ['a fractional time', now + 0.5],
  ['a time beyond the year 9999', 253402300800],
  ['a time beyond the safe integers', 2 ** 60],
  ['a string', String(now)],
  ['a Date', new Date(now * 1000)],
  ['a bigint', BigInt(now)],
  ['a boolean', true],
]
for (const [what, value] of nowRows) {
  verifyRows.push([`${what} as now`, () => tessera.verifyLicense(license, trust, { now: value }), 'now'])
}
const trustRows = [
  ['no trust text', () => new tessera.TrustSet(), 'text'],
  ['a number as trust text', () => new tessera.TrustSet(42), 'text'],
  ['a bigint as trust text', () => new tessera.TrustSet(42n), 'text'],
  ['a second argument to TrustSet', () => new tessera.TrustSet(trustText, 'utf8'), 'arguments'],
]
// An argument after the last one a call takes would be dropped without a word (the time
// after the options, the product after the trust set).
verifyRows.push(
  ['a now after the options', () => tessera.verifyLicense(license, trust, { product }, now), 'arguments'],
  ['options after undefined', () => tessera.verifyLicense(license, trust, undefined, { product: 'other' }), 'arguments'],
)
const runnerRows = (call) => [
  ['no options', () => call(), 'options'],
  ['null options', () => call(null), 'options'],
  ['a string as options', () => call('/var/lib/runner'), 'options'],
  ['no stateDir', () => call({ keystore: 'keyutils' }), 'stateDir'],
  ['a misspelt stateDir', () => call({ statedir: '/var/lib/runner' }), 'statedir'],
  ['a number as stateDir', () => call({ ...runner, stateDir: 1 }), 'stateDir'],
  ['an empty stateDir', () => call({ ...runner, stateDir: '' }), 'stateDir'],
  ['a stateDir with a NUL', () => call({ ...runner, stateDir: '/var/lib\0/runner' }), 'stateDir'],
  ['an unknown keystore', () => call({ ...runner, keystore: 'floppy' }), 'keystore'],
  ['an empty keystore', () => call({ ...runner, keystore: '' }), 'keystore'],
  ['a negative toleranceSecs', () => call({ ...runner, toleranceSecs: -1 }), 'toleranceSecs'],
  ['NaN as toleranceSecs', () => call({ ...runner, toleranceSecs: NaN }), 'toleranceSecs'],
  ['a fractional toleranceSecs', () => call({ ...runner, toleranceSecs: 1.5 }), 'toleranceSecs'],
  ['NaN as now', () => call({ ...runner, now: NaN }), 'now'],
  ['a negative now', () => call({ ...runner, now: -1 }), 'now'],
  ['a timeoutMs it does not take', () => call({ ...runner, timeoutMs: 100 }), 'timeoutMs'],
  ['a now after the options', () => call({ stateDir: runner.stateDir }, { now }), 'arguments'],
]
const hubRows = (call) => [
  ['no trust', () => call(undefined, hub), 'trust'],
  ['the options first', () => call(hub, trust), 'trust'],
  ['no options', () => call(trust), 'options'],
  ['no socket', () => call(trust, { now }), 'socket'],
  ['a number as socket', () => call(trust, { ...hub, socket: 3 }), 'socket'],
  ['an empty socket', () => call(trust, { ...hub, socket: '' }), 'socket'],
  ['a socket with a NUL', () => call(trust, { ...hub, socket: '/run/hub\0.sock' }), 'socket'],
  ['a misspelt product', () => call(trust, { ...hub, prodct: 'other' }), 'prodct'],
  ['a product that is no product id', () => call(trust, { ...hub, product: 'Not A Product!' }), 'product'],
  ['timeout instead of timeoutMs', () => call(trust, { ...hub, timeout: 100 }), 'timeout'],
  ['a zero timeoutMs', () => call(trust, { ...hub, timeoutMs: 0 }), 'timeoutMs'],
  ['a negative timeoutMs', () => call(trust, { ...hub, timeoutMs: -100 }), 'timeoutMs'],
  ['NaN as timeoutMs', () => call(trust, { ...hub, timeoutMs: NaN }), 'timeoutMs'],
  ['Infinity as timeoutMs', () => call(trust, { ...hub, timeoutMs: Infinity }), 'timeoutMs'],
  ['a fractional timeoutMs', () => call(trust, { ...hub, timeoutMs: 0.5 }), 'timeoutMs'],
  ['a timeoutMs over an hour', () => call(trust, { ...hub, timeoutMs: 3_600_001 }), 'timeoutMs'],
  ['a timeoutMs as a string', () => call(trust, { ...hub, timeoutMs: '100' }), 'timeoutMs'],
  ['a negative toleranceSecs', () => call(trust, { ...hub, toleranceSecs: -5 }), 'toleranceSecs'],
  ['NaN as now', () => call(trust, { ...hub, now: NaN }), 'now'],
  ['a fractional now', () => call(trust, { ...hub, now: now + 0.25 }), 'now'],
  ['a product after the options', () => call(trust, hub, product), 'arguments'],
]

function refused(what) {
  return (e) => {
    assert.ok(e instanceof Error, `${what}: not an Error: ${e}`)
    assert.equal(e.code, 'bad_argument', `${what}: ${e.code}: ${e.message}`)
    assert.ok(e.message.startsWith(`${what}: `), `the message names ${what}: ${e.message}`)
    assert.doesNotMatch(e.message, /napi|InvalidArg|Rust|unknown value/, e.message)
    return true
  }
}

test('every sync call refuses each bad argument with bad_argument, naming it', () => {
  const rows = [
    ...trustRows,
    ...verifyRows,
    ...runnerRows(tessera.runnerCheck),
    ...hubRows(tessera.hubStatus),
  ]
  for (const [what, call, argument] of rows) {
    assert.throws(call, refused(argument), what)
  }
})

test('the async calls reject each bad argument (they never throw synchronously)', async () => {
  const rows = [...runnerRows(tessera.runnerCheckAsync), ...hubRows(tessera.hubStatusAsync)]
  for (const [what, call, argument] of rows) {
    let promise
    assert.doesNotThrow(() => {
      promise = call()
    }, what)
    await assert.rejects(promise, refused(argument), what)
  }
})

test('the same calls, with every argument right, are made: no wrong no', async () => {
  assert.equal(new tessera.TrustSet(Buffer.from(trustText)).constructor, tessera.TrustSet)
  const valid = tessera.verifyLicense(license, trust, { product, now })
  assert.equal(valid.status, tessera.Status.Valid, valid.reason)
  assert.equal(tessera.verifyLicense(Buffer.from(license), trust, null).status, 'valid')
  assert.equal(tessera.verifyLicense(license, trust, { product: undefined, now: undefined }).status, 'valid')
  assert.equal(tessera.verifyLicense(license, trust, { product: 'other-product', now }).status, 'wrong_product')
  assert.equal(tessera.verifyLicense(license, trust, { now: 0 }).status, 'not_yet_valid')
  // A trust set saved by a Windows editor (CR LF, a byte-order mark) and the times products
  // compute (`Date.now() / 1000 | 0`, `Math.floor`, -0) are all accepted.
  for (const text of [trustText.replaceAll('\n', '\r\n'), '\uFEFF' + trustText, Buffer.from('\uFEFF' + trustText)]) {
    const windows = new tessera.TrustSet(text)
    assert.equal(tessera.verifyLicense(license, windows, { product, now }).status, 'valid')
  }
  assert.equal(tessera.verifyLicense(license, trust, { now: Date.now() / 1000 | 0 }).status, 'valid')
  assert.equal(tessera.verifyLicense(license, trust, { now: Math.floor(Date.now() / 1000) }).status, 'valid')
  assert.equal(tessera.verifyLicense(license, trust, { now: -0 }).status, 'not_yet_valid')
  // Right arguments reach the agent's socket: the error is the socket's, not the arguments'.
  const reached = { code: 'hub_unreachable' }
  assert.throws(() => tessera.hubStatus(trust, { ...hub, product, timeoutMs: 3_600_000, toleranceSecs: 0 }), reached)
  await assert.rejects(tessera.hubStatusAsync(trust, { ...hub, timeoutMs: 1 }), reached)
})

test('the status words are constants and every answer uses one of them', () => {
  const words = Object.values(tessera.Status)
  assert.equal(words.length, 19)
  assert.ok(words.includes('runner_limit_exceeded') && words.includes('unrecognized'))
  assert.deepEqual(Object.values(tessera.Mode).sort(), ['none', 'offline', 'online'])
  for (const at of [0, now, 253402300799]) {
    assert.ok(words.includes(tessera.verifyLicense(license, trust, { now: at }).status))
  }
})

// The hub call keeps the caller's deadline against an agent that accepts and never answers
// (a generous margin for a loaded machine; the lower bound shows the deadline given is the
// one kept, not a default).
test('hubStatus and hubStatusAsync keep timeoutMs against an agent that never answers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-stall-'))
  const socket = join(dir, 'status.sock')
  const held = []
  const server = createServer((connection) => held.push(connection))
  await new Promise((listening) => server.listen(socket, listening))
  const timedOut = (e) => e instanceof Error && ['hub_unreachable', 'timeout'].includes(e.code)
  try {
    for (const timeoutMs of [300, 1500]) {
      let started = performance.now()
      assert.throws(() => tessera.hubStatus(trust, { socket, timeoutMs, now }), timedOut)
      let took = performance.now() - started
      assert.ok(took >= timeoutMs - 20 && took < timeoutMs + 2000, `sync: ${took} ms for ${timeoutMs} ms`)
      started = performance.now()
      await assert.rejects(tessera.hubStatusAsync(trust, { socket, timeoutMs, now }), timedOut)
      took = performance.now() - started
      assert.ok(took >= timeoutMs - 20 && took < timeoutMs + 2000, `async: ${took} ms for ${timeoutMs} ms`)
    }
  } finally {
    for (const connection of held) connection.destroy()
    await new Promise((closed) => server.close(closed))
    rmSync(dir, { recursive: true, force: true })
  }
})
