// Maintenance of a running environment in the console against a real
// `wharf serve` (docs/operations.md, docs/ui.md): hello-service 1.0.0 runs on
// staging, which declares two test cases. A deployer follows the service's
// logs (a request made meanwhile shows up live), runs one test case and reads
// its result; a viewer sees Logs but no Terminal and no Run; the deployer
// opens the terminal, runs a command in the service's directory and sees the
// shell's answer and, after `exit`, why it closed. Screens go under
// build/ui-artifacts/.
import { test, expect, type Browser, type Page } from '@playwright/test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wharf, makeRepo, repoRoot, shot } from './wharf'

const wharf = new Wharf()
let repoDir = ''
let deployerToken = ''
let viewerToken = ''

test.beforeAll(async () => {
  await wharf.start()
  repoDir = mkdtempSync(join(tmpdir(), 'wharf-ui-maintenance-repo-'))
  const sha = makeRepo(repoDir)
  const project = JSON.parse(readFileSync(join(repoRoot, 'examples/hello-service/wharf-project.json'), 'utf8'))
  project.repository.local_git.path = repoDir
  project.environments[0].test_cases = [
    { name: 'root-page', command: 'curl -fsS "$WHARF_TARGET_URL/" | grep hello-service', timeout_s: 30 },
    { name: 'version', command: 'curl -fsS "$WHARF_TARGET_URL/version"', timeout_s: 30 },
  ]
  await wharf.api('POST', '/projects', project)
  await wharf.runToEnd('hello', sha)
  deployerToken = await wharf.tokenFor('dora')
  await wharf.api('POST', '/projects/hello/permissions', { user: 'dora', role: 'deployer' })
  viewerToken = await wharf.tokenFor('vera')
  await wharf.api('POST', '/projects/hello/permissions', { user: 'vera', role: 'viewer' })
})
test.afterAll(async () => {
  await wharf.stop()
  if (repoDir) rmSync(repoDir, { recursive: true, force: true })
})

// A page of its own per user, signed in, on the project's environments.
async function environmentsAs(browser: Browser, token: string, user: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  await page.goto(wharf.url + '/')
  await page.getByTestId('token').fill(token)
  await page.getByTestId('token').press('Enter')
  await expect(page.getByTestId('whoami')).toContainText(user)
  await page.goto(wharf.url + '/projects/hello/environments')
  return page
}

async function auditActors(type: string): Promise<string[]> {
  const { entries } = await wharf.api<{ entries: { actor: string }[] }>('GET', `/audit?project=hello&type=${type}`)
  return entries.map((e) => e.actor)
}

test('a deployer follows the service logs live and runs a declared test case', async ({ browser }) => {
  const page = await environmentsAs(browser, deployerToken, 'dora')
  const staging = page.locator('[data-env=staging]')

  await staging.getByTestId('open-logs').click()
  const logs = staging.getByTestId('service-logs')
  await expect(logs.getByTestId('logs-following')).toBeVisible()
  // The line server.py prints at start, from the tail (the build adds the commit to the version).
  await expect(logs.getByTestId('logs')).toContainText(/hello-service 1\.0\.0\+[0-9a-f]+ listening on 127\.0\.0\.1:\d+/)
  // A request made now is logged by the service and arrives while following.
  const { current } = await wharf.api<{ current: { url: string } }>('GET', '/projects/hello/environments/staging')
  const marker = `e2e-follow-${Date.now()}`
  await fetch(`${current.url}/${marker}`)
  await expect(logs.getByTestId('logs')).toContainText(`GET /${marker}`)
  expect(await auditActors('ServiceLogsOpened')).toContain('dora')
  await shot(page, '30-service-logs')
  await logs.getByTestId('logs-stop').click()
  await expect(logs).toHaveAttribute('data-state', 'stopped')
  await expect(logs.getByTestId('logs-follow')).toBeVisible()

  const cases = staging.getByTestId('test-cases')
  await expect(cases.locator('label[data-case=root-page]')).toBeVisible()
  await expect(cases.getByTestId('run-test-cases')).toBeDisabled() // nothing ticked
  await cases.getByTestId('case-version').check()
  await cases.getByTestId('run-test-cases').click()
  // TestCasesRequested, then TestCasesFinished, reach the page on the live stream.
  await expect(cases.getByTestId('test-cases-status')).toHaveText('passed')
  const result = cases.getByTestId('test-results').locator('tr[data-case=version]')
  await expect(result).toHaveAttribute('data-passed', 'true')
  await expect(result).toContainText('passed')
  await expect(result).toContainText(/\d+(\.\d+)? m?s/)
  await expect(cases.getByTestId('test-results').locator('tr[data-case=root-page]')).toHaveCount(0) // not picked
  await result.locator('summary').click()
  await expect(result.getByTestId('case-output')).toContainText('1.0.0')
  await shot(page, '31-test-cases')
  await page.context().close()
})

test('a viewer sees the logs but no terminal and no Run', async ({ browser }) => {
  const page = await environmentsAs(browser, viewerToken, 'vera')
  const staging = page.locator('[data-env=staging]')
  await expect(staging.getByTestId('test-cases').locator('label[data-case=version]')).toBeVisible()
  await expect(staging.getByTestId('open-logs')).toBeVisible()
  await expect(page.getByTestId('open-terminal')).toHaveCount(0)
  await expect(page.getByTestId('run-test-cases')).toHaveCount(0)
  await expect(staging.getByTestId('test-cases').locator('input[type=checkbox]')).toHaveCount(0)
  await staging.getByTestId('open-logs').click()
  await expect(staging.getByTestId('logs')).toContainText(/hello-service 1\.0\.0\+[0-9a-f]+ listening on/)
  await shot(page, '32-viewer-maintenance')
  await page.context().close()
})

test('a deployer opens the terminal, runs a command and sees why it closed', async ({ browser }) => {
  const page = await environmentsAs(browser, deployerToken, 'dora')
  const staging = page.locator('[data-env=staging]')
  await staging.getByTestId('open-terminal').click()
  const terminal = staging.getByTestId('terminal')
  await expect(terminal.getByTestId('terminal-open')).toBeVisible()
  const screen = terminal.getByTestId('terminal-screen')
  await screen.click()
  await page.keyboard.type('echo wharf-$((6*7))')
  await page.keyboard.press('Enter')
  // Only the shell's output has 42: the echoed command line has $((6*7)).
  await expect(screen).toContainText('wharf-42')
  // The panel sent the size xterm.js fitted to the pty (the pty's own default is 80x24).
  const cols = Number(await terminal.getAttribute('data-cols'))
  const rows = Number(await terminal.getAttribute('data-rows'))
  expect(cols).toBeGreaterThan(80)
  await page.keyboard.type('stty size')
  await page.keyboard.press('Enter')
  await expect(screen).toContainText(`${rows} ${cols}`)
  await expect(terminal.getByTestId('terminal-notes')).toHaveCount(0) // no control message was refused
  await shot(page, '33-terminal')
  await page.keyboard.type('exit')
  await page.keyboard.press('Enter')
  await expect(terminal.getByTestId('terminal-closed')).toContainText('shell exited 0')
  await expect(terminal.getByTestId('terminal-reconnect')).toBeVisible()
  await expect.poll(() => auditActors('TerminalClosed')).toContain('dora')
  expect(await auditActors('TerminalOpened')).toContain('dora')
  await page.context().close()
})
