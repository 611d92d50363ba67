// The console in a real browser against a real demo node: what an enterprise admin, the
// operator and an employee's token meet. Every page passes axe-core with no serious or critical
// violation; the README's screenshots are taken here.
import { expect, test } from '@playwright/test'
import {
  apiToken,
  consoleUrl,
  demo,
  employeeLogin,
  expectAccessible,
  logIn,
  nodeUrl,
  shoot,
} from './helpers'

test('a wrong password is refused in the user language', async ({ page }) => {
  const admin = demo().enterprise_admin
  await page.goto(consoleUrl())
  await expect(page).toHaveURL(/\/console\/login/)
  await expect(page.getByRole('heading', { name: '登录管理后台' })).toBeVisible()
  await expectAccessible(page)
  await shoot(page, 'login')

  // Nothing typed: the form says so before anything is sent.
  await page.getByRole('button', { name: '登录' }).click()
  await expect(page.getByText('请输入账号')).toBeVisible()

  await logIn(page, admin.account, 'not-the-password-1')
  await expect(page.getByRole('alert')).toHaveText('账号或密码不正确，请重新输入。')
  await expectAccessible(page)

  await page.getByTestId('language-switch').click()
  await page.getByRole('menuitem', { name: 'English' }).click()
  await expect(page.getByRole('heading', { name: 'Log in to the console' })).toBeVisible()
  await page.getByLabel('Account').fill(admin.account)
  await page.getByLabel('Password', { exact: true }).fill('not-the-password-1')
  await page.getByRole('button', { name: 'Log in' }).click()
  await expect(page.getByRole('alert')).toHaveText('The account or password is not correct. Please try again.')
})

test('the admin sees the dashboard with the node version, in both languages', async ({ page, request }) => {
  const admin = demo().enterprise_admin
  const token = await apiToken(request, admin.account, admin.password)
  const version = (await (
    await request.get(`${nodeUrl()}/api/v1/system/version`, { headers: { Authorization: `Bearer ${token}` } })
  ).json()) as { version: string }

  // The figures as the node counts them. The demo issued a SIP credential to every demo user and
  // seeded calls (today's only up to its start, so today may still be empty early in the morning):
  // the cards must show the node's own numbers, whatever the time of day.
  const figures = (await (
    await request.get(`${nodeUrl()}/api/v1/dashboard`, { headers: { Authorization: `Bearer ${token}` } })
  ).json()) as {
    devices: { issued: number; registered: number }
    today_calls: { calls: number; answered: number; missed: number }
    month: { billed_minutes: number; billed_calls: number }
  }
  expect(figures.devices.issued).toBeGreaterThanOrEqual(demo().users.length)
  const zh = (n: number): string => new Intl.NumberFormat('zh-CN').format(n)

  await logIn(page, admin.account, admin.password)
  await expect(page).toHaveURL(/\/console\/dashboard$/)
  await expect(page.getByRole('heading', { level: 1 })).toContainText('你好')
  await expect(page.getByTestId('product-version')).toHaveText(version.version)
  const card = (name: string) => page.getByRole('group', { name, exact: true })
  await expect(card('已注册设备')).toContainText(`已签发 ${zh(figures.devices.issued)} 台`)
  await expect(card('已注册设备').locator('.value')).toHaveText(zh(figures.devices.registered))
  await expect(card('今日通话').locator('.value')).toHaveText(zh(figures.today_calls.calls))
  await expect(card('今日通话')).toContainText(`接通 ${zh(figures.today_calls.answered)} · 未接 ${zh(figures.today_calls.missed)}`)
  await expect(card('本月计费分钟数').locator('.value')).toHaveText(zh(figures.month.billed_minutes))
  await expect(card('本月计费分钟数')).toContainText(`外线计费通话 ${zh(figures.month.billed_calls)} 通`)
  await expect(card('当前通话').locator('.value')).toHaveText(/^\d+$/)
  if (figures.today_calls.calls > 0) {
    await expect(page.getByRole('img', { name: /^今日每小时通话量: .*接通/ })).toBeVisible()
  } else {
    await expect(page.getByText('今天还没有通话')).toBeVisible()
  }
  await expect(page.getByRole('cell', { name: '运行中' }).first()).toBeVisible()
  await expect(page.getByRole('menuitem', { name: '仪表盘' })).toBeVisible()
  await expect(page.getByRole('menuitem', { name: '运营首页' })).toHaveCount(0)
  await expectAccessible(page)
  await shoot(page, 'dashboard-zh-CN')

  await page.getByTestId('language-switch').click()
  await page.getByRole('menuitem', { name: 'English' }).click()
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hello')
  await expect(page.getByRole('heading', { name: 'Server status' })).toBeVisible()
  await expect(page.locator('html')).toHaveAttribute('lang', 'en')
  await expect(page.getByRole('group', { name: 'Registered devices', exact: true })).toContainText(
    `of ${new Intl.NumberFormat('en').format(figures.devices.issued)} issued`,
  )
  await expect(page.getByRole('heading', { name: 'Calls by hour today' })).toBeVisible()
  await expectAccessible(page)
  await shoot(page, 'dashboard-en')

  // The choice is remembered across a reload.
  await page.reload()
  await expect(page.getByRole('heading', { name: 'Server status' })).toBeVisible()
})

test('the admin changes the password, logs in with the new one, and logs out', async ({ page }) => {
  const admin = demo().enterprise_admin
  const next = `New-pass-${Date.now() % 100000}`
  await logIn(page, admin.account, admin.password)
  await expect(page).toHaveURL(/dashboard$/)

  const change = async (old: string, fresh: string): Promise<void> => {
    await page.getByTestId('user-menu').click()
    await page.getByRole('menu').getByRole('menuitem', { name: '修改密码' }).click()
    await expect(page.getByRole('heading', { name: '修改密码', level: 1 })).toBeVisible()
    await page.getByLabel('当前密码').fill(old)
    await page.getByLabel('新密码', { exact: true }).fill(fresh)
    await page.getByLabel('确认新密码').fill(fresh)
    await page.getByRole('button', { name: '修改密码' }).click()
    await expect(page.getByText('密码已修改')).toBeVisible()
  }

  // Checked before sending: too simple, and the repetition differs.
  await page.goto(consoleUrl('password'))
  await page.getByLabel('当前密码').fill(admin.password)
  await page.getByLabel('新密码', { exact: true }).fill('abcdefgh')
  await page.getByLabel('确认新密码').fill('abcdefgh1')
  await page.getByRole('button', { name: '修改密码' }).click()
  await expect(page.getByText('密码须同时包含字母和数字', { exact: true })).toBeVisible()
  await expect(page.getByText('两次输入的新密码不一致')).toBeVisible()
  await expectAccessible(page)

  // Refused by the node: the current password is wrong; shown beside its field, in Chinese.
  await page.getByLabel('当前密码').fill('Wrong-current-1')
  await page.getByLabel('新密码', { exact: true }).fill(next)
  await page.getByLabel('确认新密码').fill(next)
  await page.getByRole('button', { name: '修改密码' }).click()
  await expect(page.getByText('当前密码不正确')).toBeVisible()

  await page.goto(consoleUrl('dashboard'))
  await change(admin.password, next)

  await page.getByTestId('user-menu').click()
  await page.getByRole('menuitem', { name: '退出登录' }).click()
  await expect(page).toHaveURL(/\/console\/login$/)
  await page.goto(consoleUrl('dashboard'))
  await expect(page).toHaveURL(/\/console\/login\?redirect=/)

  await logIn(page, admin.account, admin.password)
  await expect(page.getByRole('alert')).toContainText('账号或密码不正确')
  await logIn(page, admin.account, next)
  await expect(page).toHaveURL(/dashboard$/)

  await change(next, admin.password) // demo.json keeps telling the truth for the next tests
})

test('an access token the node refuses is refreshed once, unseen', async ({ page }) => {
  const admin = demo().enterprise_admin
  await logIn(page, admin.account, admin.password)
  await expect(page).toHaveURL(/dashboard$/)
  await page.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('zongji.session') ?? '{}')
    s.accessToken = 'eyJ.not.valid'
    localStorage.setItem('zongji.session', JSON.stringify(s))
  })
  await page.reload()
  await expect(page.getByTestId('product-version')).not.toBeEmpty()
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('zongji.session') ?? '{}').accessToken as string)
  expect(stored).not.toBe('eyJ.not.valid')
})

test('an expired session goes to the login page and back to the page', async ({ page }) => {
  const admin = demo().enterprise_admin
  await logIn(page, admin.account, admin.password)
  await expect(page).toHaveURL(/dashboard$/)
  await page.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('zongji.session') ?? '{}')
    s.accessToken = 'eyJ.not.valid'
    s.refreshToken = 'zrt_not_valid'
    localStorage.setItem('zongji.session', JSON.stringify(s))
  })
  await page.reload()
  await expect(page).toHaveURL(/\/console\/login\?redirect=(%2F|\/)dashboard/)
  await expect(page.getByText('登录已过期，请重新登录，登录后将回到原页面。')).toBeVisible()
  await logIn(page, admin.account, admin.password)
  await expect(page).toHaveURL(/\/console\/dashboard$/)
})

test('an employee token opens no console data', async ({ page, request }) => {
  const [user] = demo().users
  if (!user) throw new Error('the demo has no users')
  const pair = await employeeLogin(request, user.mobile)
  const headers = { Authorization: `Bearer ${pair.access_token as string}` }
  for (const path of ['/api/v1/system/status', '/api/v1/calls', '/api/v1/platform/enterprises']) {
    const r = await request.get(`${nodeUrl()}${path}`, { headers })
    expect(r.status(), path).toBe(403)
    expect(((await r.json()) as { code: string }).code).toBe('forbidden')
  }

  // The same token put where the console keeps its session: the console refuses it.
  await page.goto(consoleUrl('login'))
  await page.evaluate((p) => {
    localStorage.setItem(
      'zongji.session',
      JSON.stringify({
        accessToken: p.access_token,
        refreshToken: p.refresh_token,
        accessExpiresAt: Date.now() + 600_000,
        refreshExpiresAt: Date.now() + 3_600_000,
        deviceId: p.device_id,
        subjectKind: p.subject_kind,
        subjectId: p.subject_id,
        tenantId: p.tenant_id,
        name: p.name,
        roles: p.roles,
      }),
    )
  }, pair)
  await page.goto(consoleUrl('dashboard'))
  await expect(page).toHaveURL(/\/console\/login\?reason=not_console/)
  await expect(page.getByText('此账号不能使用管理后台，请使用管理员账号登录。')).toBeVisible()
  expect(await page.evaluate(() => localStorage.getItem('zongji.session'))).toBeNull()
})

test('the operator lands on the operator home', async ({ page }) => {
  const { operator, enterprise } = demo()
  await logIn(page, operator.account, operator.password)
  await expect(page).toHaveURL(/\/console\/operator$/)
  await expect(page.getByRole('heading', { name: '最近开通的企业' })).toBeVisible()
  await expect(page.getByRole('cell', { name: enterprise.name })).toBeVisible()
  await expect(page.getByRole('menuitem', { name: '仪表盘' })).toHaveCount(0)
  await expectAccessible(page)
  await shoot(page, 'operator-home')

  // The admin's dashboard is not the operator's: sent home instead.
  await page.goto(consoleUrl('dashboard'))
  await expect(page).toHaveURL(/\/console\/operator$/)
})

test('an unknown address shows the 404 page', async ({ page }) => {
  const admin = demo().enterprise_admin
  await logIn(page, admin.account, admin.password)
  await expect(page).toHaveURL(/dashboard$/)
  await page.goto(consoleUrl('no/such/page'))
  await expect(page.getByRole('heading', { name: '404' })).toBeVisible()
  await expect(page.getByRole('main').getByText('页面不存在', { exact: true })).toBeVisible()
  await expectAccessible(page)
  await page.getByRole('button', { name: '返回首页' }).click()
  await expect(page).toHaveURL(/dashboard$/)
})
