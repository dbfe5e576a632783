// `npm run package`: after `npm run build`, copies the addon it built (tessera.<platform>.node,
// beside the loader) into its platform package, npm/<platform>/, from which that package is
// packed and published. (`napi artifacts` does this only when the addons of every target in
// package.json are at hand, as in the release workflow.)
'use strict'

const { copyFileSync, existsSync, readdirSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')
const built = readdirSync(root).filter((name) => /^tessera\.[a-z0-9-]+\.node$/.test(name))
if (built.length === 0) {
  console.error('npm run package: no tessera.<platform>.node here to copy; run `npm run build` first.')
  process.exit(1)
}
for (const name of built) {
  const platform = name.slice('tessera.'.length, -'.node'.length)
  const dir = join(root, 'npm', platform)
  if (!existsSync(join(dir, 'package.json'))) {
    console.error(`npm run package: ${name} is for ${platform}, which has no package in npm/.`)
    process.exit(1)
  }
  copyFileSync(join(root, name), join(dir, name))
  console.log(`npm/${platform}/${name}`)
}
