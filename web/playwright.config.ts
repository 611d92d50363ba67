// End-to-end tests of the console in Debian's Chromium (/usr/bin/chromium: nothing downloads a
// browser) against a real demo node that e2e/global-setup.ts starts (scripts/e2e-node), on
// SQLite, or on PostgreSQL when ZONGJI_TEST_DATABASE_URL is set (as `.ci/run` does).
import { defineConfig } from '@playwright/test'

export default defineConfig({
  testDir: './e2e',
  globalSetup: './e2e/global-setup.ts',
  // One node, one demo enterprise: tests that change its state (the password) run in order.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  // Argon2 on a busy 2-core machine: a login or password change can take seconds.
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: process.env.ZONGJI_CONSOLE_URL,
    viewport: { width: 1280, height: 720 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox'],
    },
  },
})
