import { defineConfig } from '@playwright/test'

// Drives Debian's chromium (Playwright never downloads a browser here:
// PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 at npm ci). The tests start their own
// `wharf serve` (tests/e2e/wharf.ts).
export default defineConfig({
  testDir: 'tests/e2e',
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: process.env.WHARF_UI_ARTIFACTS ? `${process.env.WHARF_UI_ARTIFACTS}/test-results` : 'test-results',
  use: {
    browserName: 'chromium',
    testIdAttribute: 'data-test',
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH ?? '/usr/bin/chromium',
      args: ['--disable-dev-shm-usage'],
    },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    acceptDownloads: true,
  },
})
