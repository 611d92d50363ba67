// Starts what the tests drive: a demo node (scripts/e2e-node) and the built console in front of
// it. Until the node serves /console/ itself, `vite preview` serves dist/console and passes /api
// to the node; the tests only ever see one origin, as users will.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const root = resolve(web, '..')

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      const port = typeof address === 'object' && address ? address.port : 0
      s.close(() => ok(port))
    })
  })
}

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
  const port = await freePort()
  const preview = spawn(
    process.execPath,
    [resolve(web, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'],
    { cwd: web, env: { ...process.env, ZONGJI_NODE: info.http }, stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const consoleUrl = `http://127.0.0.1:${port}`
  await waitFor(`${consoleUrl}/console/`, 60)
  process.env.ZONGJI_CONSOLE_URL = consoleUrl
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
    await stop(preview)
    await stop(node)
  }
}
