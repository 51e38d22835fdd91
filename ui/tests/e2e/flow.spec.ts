// The seed's whole flow in a real Chromium against a real `wharf serve`:
// sign in, create a project on a local git repository, commit, watch the run
// go build -> staging -> tests -> prod live, roll prod back and find it in
// the history and the audit (and download a verifiable export); a viewer
// sees no deploy button and a forbidden page shows the API's 403 message; a
// permission request approved by the owner unlocks the button without a
// reload. Every screen is saved under build/ui-artifacts/.
import { test, expect, type Page, type Request } from '@playwright/test'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wharf, commit, ensureArtifacts, makeRepo, wharfBin, shot } from './wharf'

const wharf = new Wharf()
let repoDir = ''
let shots = ''

test.beforeAll(async () => {
  shots = ensureArtifacts()
  await wharf.start()
  repoDir = mkdtempSync(join(tmpdir(), 'wharf-ui-repo-'))
})
test.afterAll(async () => {
  await wharf.stop()
  if (repoDir) rmSync(repoDir, { recursive: true, force: true })
})

async function signIn(page: Page, token: string, user: string) {
  await page.goto(wharf.url + '/')
  await expect(page).toHaveURL(/\/signin/)
  await page.getByTestId('token').fill(token)
  await page.getByTestId('token').press('Enter') // keyboard works
  await expect(page.getByTestId('whoami')).toContainText(user)
}

async function startRun(page: Page, sha: string) {
  await page.getByRole('link', { name: 'Runs', exact: true }).click()
  await page.getByTestId('commit-sha').fill(sha)
  await page.getByTestId('start-run-button').click()
  await expect(page).toHaveURL(/\/runs\/r-/)
}

test('release flow, roles and permissions in the browser', async ({ browser, page }) => {
  const first = makeRepo(repoDir)
  page.on('dialog', (d) => void d.dismiss())

  // --- sign in (a bad token shows the API's message first)
  await page.goto(wharf.url + '/projects')
  await expect(page).toHaveURL(/\/signin\?next=/)
  await shot(page, '01-signin')
  await page.getByTestId('token').fill('wharf_not-a-token')
  await page.getByTestId('signin').click()
  await expect(page.getByTestId('error')).toHaveText(/unknown bearer token/)
  await page.getByTestId('token').fill(wharf.adminToken)
  await page.getByTestId('signin').click()
  await expect(page.getByTestId('whoami')).toContainText('admin')
  await expect(page.getByTestId('empty')).toContainText('No projects yet')

  // --- create the project on the local git repository
  await page.getByTestId('new-project').click()
  await page.getByTestId('project-id').fill('hello')
  await page.getByTestId('git-path').fill(repoDir)
  await page.getByTestId('add-test-0').click()
  await page.getByTestId('test-name-0-0').fill('smoke')
  await page
    .getByTestId('test-command-0-0')
    .fill('curl -fsS "$WHARF_TARGET_URL/healthz" && curl -fsS "$WHARF_TARGET_URL/" | grep hello-service')
  await page.getByTestId('start-command').fill('exec python3 server.py')
  await page.getByTestId('config').fill('GREETING=hello')
  await shot(page, '02-project-create')
  await page.getByTestId('save-project').click()
  await expect(page).toHaveURL(/\/projects\/hello$/)
  await page.goto(wharf.url + '/projects')
  await expect(page.getByTestId('projects')).toContainText('hello')
  await expect(page.getByTestId('projects')).toContainText('staging → prod')
  await shot(page, '03-projects')
  await page.getByRole('link', { name: 'hello', exact: true }).click()

  // --- commit 1: watch build -> staging -> tests -> prod, live
  const runReads: string[] = []
  const onRequest = (r: Request) => {
    if (/\/api\/v1\/projects\/hello\/runs\/r-[^/?]+(\?|$)/.test(r.url())) runReads.push(r.url())
  }
  page.on('request', onRequest)
  await startRun(page, first)
  await expect(page.getByTestId('timeline')).toBeVisible()
  await expect(page.getByTestId('run-status')).toHaveText('succeeded', { timeout: 150_000 })
  page.off('request', onRequest)
  await expect(page.locator('[data-test=timeline] > li')).toHaveCount(4)
  expect(await page.locator('[data-test=timeline] > li').evaluateAll((els) => els.map((e) => e.getAttribute('data-step')))).toEqual([
    'build-1', 'deploy-staging-1', 'tests-staging-1', 'deploy-prod-1',
  ])
  await expect(page.locator('[data-test=timeline] > li.succeeded')).toHaveCount(4)
  const live = page.getByTestId('live-events')
  // The stream starts when the run page subscribes: on a slow machine the
  // build can be over by then (seen once), so only later events are required.
  for (const type of ['TestsPassed', 'PipelineRunCompleted']) await expect(live).toContainText(type)
  // Live, not polled: after the first read, every read of the run was caused
  // by an event (it carries that event's position as min_position).
  expect(runReads.length).toBeGreaterThan(1)
  for (const url of runReads.slice(1)) expect(url).toMatch(/[?&]min_position=\d+/)
  await shot(page, '04-run')
  await page.setViewportSize({ width: 420, height: 900 })
  await shot(page, '05-run-narrow')
  await page.setViewportSize({ width: 1280, height: 800 })

  // --- the build log
  await page.locator('[data-step=build-1]').getByRole('link', { name: 'log', exact: true }).click()
  await expect(page.getByTestId('log')).toContainText(`checkout ${first}`)
  await expect(page.getByTestId('log-complete')).toBeVisible()
  await shot(page, '06-log')
  await page.getByRole('link', { name: '← back to the run' }).click()

  // --- commit 2
  const second = commit(repoDir, 'VERSION', '2.0.0', 'hello-service 2.0.0')
  await startRun(page, second)
  await expect(page.getByTestId('run-status')).toHaveText('succeeded', { timeout: 150_000 })

  const versions = await wharf.api<{ versions: { version: string; commit_sha: string }[] }>('GET', '/projects/hello/versions')
  const v1 = versions.versions.find((v) => v.commit_sha === first)!.version
  const v2 = versions.versions.find((v) => v.commit_sha === second)!.version
  await page.getByRole('link', { name: 'Versions', exact: true }).click()
  await expect(page.getByTestId('versions').locator('tbody tr')).toHaveCount(2)
  await expect(page.locator(`[data-version="${v2}"]`)).toContainText('prod')
  await shot(page, '07-versions')

  // --- roll prod back to the first version, confirming the exact spec
  await page.getByRole('link', { name: 'Environments', exact: true }).click()
  const prod = page.locator('[data-env=prod]')
  await expect(prod.getByTestId('current')).toContainText(v2.slice(7, 19))
  await expect(prod.getByTestId('rollback')).toHaveCount(1)
  await prod.getByTestId('rollback').click()
  const dialog = page.getByTestId('rollback-dialog')
  await expect(dialog.getByTestId('rollback-spec')).toContainText(v1)
  await expect(dialog.getByTestId('rollback-spec')).toContainText('Deploy event')
  await dialog.getByTestId('rollback-reason').fill('2.0.0 is not wanted')
  await shot(page, '08-rollback-confirm')
  await dialog.getByTestId('confirm-rollback').click()
  await expect(dialog).toBeHidden()
  await expect(prod.getByTestId('current')).toContainText(v1.slice(7, 19), { timeout: 90_000 })
  await expect(prod.getByTestId('current')).toContainText('rollback: 2.0.0 is not wanted')
  await expect(prod.getByTestId('history')).toContainText('rollback requested')
  await shot(page, '09-environments')

  await page.getByRole('link', { name: 'Overview', exact: true }).click()
  await expect(page.getByTestId('chart')).toBeVisible()
  await shot(page, '10-overview-chart')

  // --- audit: the rollback is there; the export downloads and verifies
  await page.getByRole('link', { name: 'Audit', exact: true }).first().click()
  await page.getByTestId('audit-type').fill('RollbackRequested')
  await page.getByTestId('audit-search').click()
  await expect(page.getByTestId('audit').locator('tbody tr')).toHaveCount(1)
  await expect(page.getByTestId('audit')).toContainText('admin')
  await shot(page, '11-audit')
  const downloading = page.waitForEvent('download')
  await page.getByTestId('audit-export').click()
  const file = join(shots, 'export.wexp')
  await (await downloading).saveAs(file)
  const verified = execFileSync(wharfBin, ['audit', 'verify', '--file', file]).toString()
  expect(verified).toMatch(/ok|verified/i)

  // --- a viewer: no deploy button; a forbidden page shows the API's 403 message
  const veraToken = await wharf.tokenFor('vera')
  await wharf.api('POST', '/projects/hello/permissions', { user: 'vera', role: 'viewer' })
  const veraContext = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const vera = await veraContext.newPage()
  await signIn(vera, veraToken, 'vera')
  await vera.goto(wharf.url + '/projects/hello/audit')
  await expect(vera.getByTestId('error').first()).toHaveText(/user "vera" needs role owner on project "hello"/)
  await shot(vera, '12-forbidden')
  await vera.goto(wharf.url + '/projects/hello/versions')
  await expect(vera.getByTestId('versions').locator('tbody tr')).toHaveCount(2)
  await expect(vera.getByTestId('deploy')).toHaveCount(0)
  await expect(vera.getByTestId('my-role')).toHaveText('viewer')

  // --- vera asks for deployer; the owner approves; her page unlocks live
  await vera.goto(wharf.url + '/permissions')
  await vera.getByTestId('request-project').fill('hello')
  await vera.getByTestId('request-role').selectOption('deployer')
  await vera.getByTestId('request-reason').fill('on call this week')
  await vera.getByTestId('request-submit').click()
  await expect(vera.getByTestId('my-requests')).toContainText('pending')
  await vera.getByRole('link', { name: 'Projects' }).click()
  await vera.getByRole('link', { name: 'hello', exact: true }).click()
  await vera.getByRole('link', { name: 'Versions', exact: true }).click()
  await expect(vera.getByTestId('versions').locator('tbody tr')).toHaveCount(2)
  await expect(vera.getByTestId('deploy')).toHaveCount(0)

  await page.getByRole('link', { name: 'Permissions', exact: true }).first().click()
  const request = page.getByTestId('requests').locator('tr', { hasText: 'vera' })
  await expect(request).toContainText('on call this week')
  await shot(page, '13-permissions')
  await request.getByTestId('approve-request').click()
  await expect(request).toContainText('granted by admin')

  // No reload on vera's side: the grant arrives on her live stream.
  await expect(vera.getByTestId('deploy').first()).toBeVisible({ timeout: 30_000 })
  await expect(vera.getByTestId('my-role')).toHaveText('deployer')
  await vera.locator(`[data-version="${v2}"] select`).selectOption('staging')
  await vera.locator(`[data-version="${v2}"]`).getByTestId('deploy').click()
  await expect(vera.getByRole('status').filter({ hasText: 'requested' })).toBeVisible()
  await shot(vera, '14-unlocked')
  await vera.goto(wharf.url + '/me')
  await expect(vera.getByTestId('my-roles')).toContainText('deployer')
  await shot(vera, '15-me')
  await veraContext.close()
})
