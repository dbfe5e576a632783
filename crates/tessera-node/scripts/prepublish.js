// `prepublishOnly` of @tessera/node and of each platform package (npm/<platform>), run by
// `npm publish` in the package's directory. Each package is published on its own, by the
// release workflow on the platform it was built on, so this checks only the package at hand:
// - @tessera/node: its optionalDependencies name exactly the packages in npm/, at its version,
//   and each of those is at its version;
// - a platform package: its addon is there, built for its cpu and libc (an empty or
//   wrong-architecture package would install where it matches and load nowhere).
'use strict'

const { existsSync, readFileSync, readdirSync } = require('node:fs')
const { join } = require('node:path')

const here = process.cwd()
const manifest = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'))
const fail = (why) => {
  console.error(`${manifest.name} ${manifest.version} cannot be published: ${why}.`)
  process.exit(1)
}

if (manifest.napi) {
  const expected = {}
  for (const platform of readdirSync(join(here, 'npm'))) {
    const pkg = JSON.parse(readFileSync(join(here, 'npm', platform, 'package.json'), 'utf8'))
    if (pkg.name !== `${manifest.name}-${platform}`) fail(`npm/${platform} is named ${pkg.name}`)
    if (pkg.version !== manifest.version) fail(`${pkg.name} is at ${pkg.version}`)
    expected[pkg.name] = manifest.version
  }
  const listed = JSON.stringify(Object.entries(manifest.optionalDependencies || {}).sort())
  if (listed !== JSON.stringify(Object.entries(expected).sort())) {
    fail(`its optionalDependencies ${listed} are not the packages in npm/ at ${manifest.version}`)
  }
} else {
  const addon = join(here, manifest.main)
  if (!existsSync(addon)) fail(`${manifest.main} is missing (npm run package, or napi artifacts, puts it here)`)
  const bytes = readFileSync(addon)
  const head = bytes.subarray(0, 20)
  if (head.length < 20 || head.toString('latin1', 0, 4) !== '\x7fELF') fail(`${manifest.main} is not a shared library`)
  const machines = { 3: 'ia32', 40: 'arm', 62: 'x64', 183: 'arm64', 243: 'riscv64' }
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18)
  const built = machines[machine] || `machine ${machine}`
  if (!manifest.cpu.includes(built)) fail(`${manifest.main} is built for ${built}, and the package is for ${manifest.cpu}`)
  // The C library it links: glibc's libc.so.6, or musl's libc.musl-<arch>.so.1 (zig, which
  // links the musl build, records plain libc.so: musl's name for itself).
  const libc = bytes.includes('libc.so.6')
    ? 'glibc'
    : bytes.includes('libc.musl-') || bytes.includes('libc.so\0')
      ? 'musl'
      : 'an unknown C library'
  if (!manifest.libc.includes(libc)) fail(`${manifest.main} is linked against ${libc}, and the package is for ${manifest.libc}`)
}
