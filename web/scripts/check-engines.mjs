// Every installed package must run on Debian 12's Node.js (18.19) — what a fresh machine gets —
// even though a developer's machine may have a newer one. A dependency bump that needs a newer
// Node fails `make lint` here instead of a newcomer's `make run`.
import { readFileSync, existsSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import semver from 'semver'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const floor = JSON.parse(readFileSync(join(web, 'package.json'), 'utf8')).engines.node
const oldest = semver.minVersion(floor).version
const lock = JSON.parse(readFileSync(join(web, 'package-lock.json'), 'utf8'))
const bad = []
for (const [path, info] of Object.entries(lock.packages ?? {})) {
  if (!path || info.optional && !existsSync(join(web, path))) continue
  const range = info.engines?.node
  if (range && !semver.satisfies(oldest, range, { includePrerelease: true })) {
    bad.push(`${path.replace(/^node_modules\//, '')}@${info.version} needs node ${range}`)
  }
}
if (bad.length) {
  console.error(`These packages do not run on Node.js ${oldest} (package.json engines: ${floor}):`)
  for (const b of bad) console.error(`  ${b}`)
  process.exit(1)
}
console.log(`every package runs on Node.js ${oldest}`)

