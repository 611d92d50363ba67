// Starts what the tests drive: a demo node (scripts/e2e-node) that serves the built console
// (web/dist/console) at /console/ itself, next to its API: one origin, as users meet it.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(web, '..')

function startNode(): Promise<{ child: ChildProcess; info: { http: string; demo: string; log: string } }> {
  const venv = resolve(root, '.venv/bin/python')
  const python = existsSync(venv) ? venv : 'python3'
  const child = spawn(python, [resolve(root, 'scripts/e2e-node')], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((ok, fail) => {
    if (!child.stdout) return fail(new Error('no stdout from scripts/e2e-node'))
    const lines = createInterface({ input: child.stdout })
    lines.once('line', (line) => ok({ child, info: JSON.parse(line) }))
    child.once('exit', (code) => fail(new Error(`scripts/e2e-node exited with ${code}`)))
  })
}

async function waitFor(url: string, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    try {
      const r = await fetch(url)
      if (r.ok) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${url} did not answer in ${seconds} s`)
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(resolve(web, 'dist/console/index.html'))) {
    throw new Error('the console is not built: run `make web` (or `npx vite build` in web/) first')
  }
  const { child: node, info } = await startNode()
  // The node answers 503 while web/dist/console has no index.html; 200 means it serves the build.
  await waitFor(`${info.http}/console/`, 60)
  process.env.ZONGJI_CONSOLE_URL = info.http
  process.env.ZONGJI_NODE_URL = info.http
  process.env.ZONGJI_DEMO_JSON = info.demo
  process.env.ZONGJI_NODE_LOG = info.log

  const stop = (child: ChildProcess): Promise<void> =>
    new Promise((ok) => {
      if (child.exitCode !== null) return ok()
      child.once('exit', () => ok())
      child.kill('SIGTERM')
    })
  return async () => {
    await stop(node)
  }
}
