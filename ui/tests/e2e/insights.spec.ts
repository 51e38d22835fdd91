// Release insights in the console against a real `wharf serve`
// (docs/insights.md): hello-service 1.0.0 and 2.0.0 go through staging and
// prod, prod is rolled back to 1.0.0. The Landscape page shows what runs
// where (prod: 1.0.0, a rollback; staging ahead of prod) and follows a new
// deploy live; the Insights page shows the four figures and drills down to
// the deployment the rollback made a failure — checked against the API.
import { test, expect } from '@playwright/test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wharf, commit, makeRepo, repoRoot, shot } from './wharf'
import { shortVersion } from '../../src/timeline'

const wharf = new Wharf()
let repoDir = ''

test.beforeAll(async () => {
  await wharf.start()
  repoDir = mkdtempSync(join(tmpdir(), 'wharf-ui-insights-repo-'))
})
test.afterAll(async () => {
  await wharf.stop()
  if (repoDir) rmSync(repoDir, { recursive: true, force: true })
})

interface Report { total: { deployments: number; failed_deployments: number; change_failure_rate: number } }

test('the landscape, the four figures and a drill-down', async ({ page }) => {
  const first = makeRepo(repoDir)
  const project = JSON.parse(readFileSync(join(repoRoot, 'examples/hello-service/wharf-project.json'), 'utf8'))
  project.repository.local_git.path = repoDir
  await wharf.api('POST', '/projects', project)
  await wharf.runToEnd('hello', first)
  const second = commit(repoDir, 'VERSION', '2.0.0', 'hello-service 2.0.0')
  await wharf.runToEnd('hello', second)
  const envs = await wharf.api<{ environments: { environment: string; current: { version: string } }[] }>(
    'GET', '/projects/hello/environments')
  const prodNow = envs.environments.find((e) => e.environment === 'prod')!.current.version
  const { versions } = await wharf.api<{ versions: { version: string }[] }>('GET', '/projects/hello/versions')
  const older = versions.map((v) => v.version).find((v) => v !== prodNow)!
  await wharf.api('POST', '/projects/hello/environments/prod/rollback', { target_version: older, reason: 'checkout broken' })
  await expect
    .poll(async () => (await wharf.api<{ current: { version: string } }>('GET', '/projects/hello/environments/prod')).current.version,
      { timeout: 60_000 })
    .toBe(older)

  await page.goto(wharf.url + '/')
  await page.getByTestId('token').fill(wharf.adminToken)
  await page.getByTestId('token').press('Enter')
  await expect(page.getByTestId('whoami')).toContainText('admin')

  await page.getByRole('link', { name: 'Landscape' }).click()
  const prod = page.getByTestId('cell-hello-prod')
  const staging = page.getByTestId('cell-hello-staging')
  await expect(prod.getByTestId('version')).toContainText(shortVersion(older))
  await expect(prod).toContainText('rollback')
  await expect(staging.getByTestId('version')).toContainText(shortVersion(prodNow))
  await expect(staging.getByTestId('drift')).toContainText('ahead of prod by 1')
  await shot(page, '30-landscape')

  // Live: deploying 2.0.0 to prod again updates the cell without a reload.
  await wharf.api('POST', '/projects/hello/environments/prod/deploy', { version: prodNow })
  await expect(prod.getByTestId('version')).toContainText(shortVersion(prodNow), { timeout: 60_000 })
  await expect(prod).not.toContainText('rollback')
  await expect(staging.getByTestId('drift')).toHaveCount(0)

  // Insights: the figures the API gives, and the deployment the rollback failed.
  const day = 86400000
  const from = new Date(Date.now() - 7 * day).toISOString().slice(0, 10)
  const to = new Date(Date.now() + day).toISOString().slice(0, 10)
  const api = await wharf.api<Report>('GET', `/insights?project=hello&from=${from}T00:00:00Z&to=${to}T00:00:00Z`)
  expect(api.total.failed_deployments).toBe(1)
  await page.getByRole('link', { name: 'Insights' }).click()
  await page.getByTestId('insights-project').fill('hello')
  await page.getByTestId('insights-from').fill(from)
  await page.getByTestId('insights-to').fill(to)
  await page.getByTestId('insights-show').click()
  await expect(page.getByTestId('kpi-frequency')).toContainText(`${api.total.deployments} deployments`)
  await expect(page.getByTestId('kpi-cfr')).toContainText(`${(100 * api.total.change_failure_rate).toFixed(1)}%`)
  await expect(page.getByTestId('insights-chart')).toBeVisible()
  await page.getByTestId('show-deployments').click()
  const drill = page.getByTestId('drilldown')
  await expect(drill.getByTestId('failure').filter({ hasText: 'rolled back' })).toHaveCount(1)
  await shot(page, '31-insights')
})
