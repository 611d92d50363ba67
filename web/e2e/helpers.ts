// What the console tests share: the node's demo accounts, logging in, axe, screenshots.
import AxeBuilder from '@axe-core/playwright'
import { expect, type APIRequestContext, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/console')

interface Demo {
  operator: { account: string; password: string }
  enterprise_admin: { account: string; password: string }
  enterprise: { name: string; code: string }
  users: { name: string; mobile: string }[]
}

/** What e2e/global-setup.ts tells the tests through the environment. */
function env(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run the tests with \`npx playwright test\``)
  return value
}

export function demo(): Demo {
  return JSON.parse(readFileSync(env('ZONGJI_DEMO_JSON'), 'utf8')) as Demo
}

export const nodeUrl = (): string => env('ZONGJI_NODE_URL')
export const consoleUrl = (path = ''): string => `${env('ZONGJI_CONSOLE_URL')}/console/${path}`

export async function logIn(page: Page, account: string, password: string): Promise<void> {
  await page.goto(consoleUrl('login'))
  await page.getByLabel(/账号|Account/).fill(account)
  await page.getByLabel(/^(密码|Password)$/).fill(password)
  await page.getByRole('button', { name: /^(登录|Log in)$/ }).click()
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze()
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  expect(bad, bad.join('\n')).toEqual([])
}

export async function apiToken(request: APIRequestContext, account: string, password: string): Promise<string> {
  const r = await request.post(`${nodeUrl()}/api/v1/auth/login`, { data: { account, password } })
  expect(r.status()).toBe(200)
  return ((await r.json()) as { access_token: string }).access_token
}

/** An employee's token, the way the client app gets one: an SMS code (the demo node prints it). */
export async function employeeLogin(
  request: APIRequestContext,
  mobile: string,
): Promise<Record<string, unknown>> {
  const national = mobile.replace(/^\+86/, '')
  const asked = await request.post(`${nodeUrl()}/api/v1/auth/code`, { data: { mobile: national } })
  expect(asked.status()).toBe(202)
  let code = ''
  await expect
    .poll(() => {
      const lines = readFileSync(env('ZONGJI_NODE_LOG'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(`[SMS to ${mobile}]`))
      code = lines.at(-1)?.split('] ')[1]?.match(/\d{4,8}/)?.[0] ?? ''
      return code
    })
    .not.toBe('')
  const r = await request.post(`${nodeUrl()}/api/v1/auth/code-login`, { data: { mobile: national, code } })
  expect(r.status()).toBe(200)
  return (await r.json()) as Record<string, unknown>
}

/** A screenshot for docs/console/: the whole page from its top (sticky header and sidebar in
 * place). */
export async function shoot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true })
}
