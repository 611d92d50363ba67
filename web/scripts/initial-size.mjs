// The console's initial JavaScript: what the browser loads before the first page shows (the
// entry script and the chunks index.html preloads), gzipped. Issue 13's budget: 350 KB.
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/console')
const html = readFileSync(join(dist, 'index.html'), 'utf8')
const scripts = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map((m) => m[1])
let raw = 0
let gz = 0
for (const s of new Set(scripts)) {
  const bytes = readFileSync(join(dist, s))
  raw += bytes.length
  gz += gzipSync(bytes, { level: 9 }).length
}
const kb = (n) => (n / 1024).toFixed(1)
console.log(`console initial JS: ${new Set(scripts).size} files, ${kb(raw)} KB, ${kb(gz)} KB gzipped (budget 350 KB)`)
if (gz > 350 * 1024) process.exit(1)
