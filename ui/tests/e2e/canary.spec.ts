// A canary in the console against a real `wharf serve` (docs/canary.md,
// docs/ui.md): hello-service 1.0.0 goes out whole, 2.0.0 as a canary on the
// local router (10% -> 50%, X-Canary: 1 always to it). The environment card
// shows prod's health (probed every second here), the canary's weight, the
// header and the router's counts; Promote moves it to 50%, Abort (with a
// reason) sends all traffic back — each checked against the API and the
// audit, not only the page. Screens go under build/ui-artifacts/.
import { test, expect } from '@playwright/test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wharf, commit, makeRepo, repoRoot, shot } from './wharf'

const wharf = new Wharf()
let repoDir = ''

interface CanaryStatus {
  active: boolean
  stable_version: string
  canary?: { weight: number; outcome: string }
  router?: { port: number; weight: number; stable: { requests: number }; canary: { requests: number } }
}
const canaryStatus = () => wharf.api<CanaryStatus>('GET', '/projects/hello/environments/prod/canary')

test.beforeAll(async () => {
  await wharf.start(['--health-interval', '1'])
  repoDir = mkdtempSync(join(tmpdir(), 'wharf-ui-canary-repo-'))
})
test.afterAll(async () => {
  await wharf.stop()
  if (repoDir) rmSync(repoDir, { recursive: true, force: true })
})

test('a canary in the console: health, weight and header, promote, abort', async ({ page }) => {
  const first = makeRepo(repoDir)
  const project = JSON.parse(readFileSync(join(repoRoot, 'examples/hello-service/wharf-project.json'), 'utf8'))
  project.repository.local_git.path = repoDir
  await wharf.api('POST', '/projects', project)
  await wharf.runToEnd('hello', first)
  await wharf.api('PUT', '/projects/hello/environments/prod', {
    target: 'local',
    auto_deploy: true,
    canary: {
      steps: [{ weight: 10, pause: 'manual' }, { weight: 50, pause: 'manual' }, { weight: 100 }],
      match: { header: 'X-Canary', header_value: '1' },
    },
  })
  const second = commit(repoDir, 'VERSION', '2.0.0', 'hello-service 2.0.0')
  await wharf.runToEnd('hello', second)
  expect((await canaryStatus()).router?.weight).toBe(10)

  await page.goto(wharf.url + '/')
  await page.getByTestId('token').fill(wharf.adminToken)
  await page.getByTestId('token').press('Enter')
  await expect(page.getByTestId('whoami')).toContainText('admin')
  await page.goto(wharf.url + '/projects/hello/environments')
  const prod = page.locator('[data-env=prod]')
  const panel = prod.getByTestId('canary')
  await expect(panel.getByTestId('canary-weight')).toHaveText('10%')
  await expect(panel).toContainText('step 1 of 3, waits for a promote')
  await expect(panel.getByTestId('canary-match')).toContainText('header X-Canary: 1')
  await expect(prod.getByTestId('current-canary')).toContainText('canary at 10%')
  await expect(panel.getByTestId('canary-counts')).toContainText('Router :')
  // The health monitor probes every second: a HealthChanged event reloads the card.
  await expect(prod.getByTestId('health')).toHaveAttribute('data-health', 'healthy')
  await expect(prod.getByTestId('health')).toContainText('healthy')
  // Staging has no canary: no panel there.
  await expect(page.locator('[data-env=staging]').getByTestId('canary')).toHaveCount(0)
  await shot(page, '20-canary-10')

  // Requests through the router show up in the counts on refresh.
  const router = (await canaryStatus()).router!
  const through = await fetch(`http://127.0.0.1:${router.port}/`, { headers: { 'X-Canary': '1' } })
  expect(through.headers.get('x-wharf-route')).toBe('canary')
  expect(await through.text()).toContain('hello-service 2.0.0')
  await panel.getByRole('button', { name: 'refresh' }).click()
  await expect(panel.getByTestId('canary-counts')).toContainText(`canary ${router.canary.requests + 1} (0 errors)`)

  await expect(panel.getByTestId('canary-promote')).toHaveText('Promote to 50%')
  await panel.getByTestId('canary-promote').click()
  await expect(panel.getByTestId('canary-weight')).toHaveText('50%')
  await expect(panel.getByTestId('canary-promote')).toHaveText('Promote to 100%')
  expect((await canaryStatus()).router?.weight).toBe(50)
  await shot(page, '21-canary-50')

  await panel.getByTestId('canary-abort').click()
  await panel.getByTestId('canary-abort-reason').fill('latency up at 50%')
  await panel.getByTestId('canary-abort-confirm').click()
  await expect(prod.getByTestId('canary-last')).toContainText('aborted')
  await expect(prod.getByTestId('canary-promote')).toHaveCount(0)
  // The version that serves is current again (issue 24): the stable one, not the aborted canary.
  const stable = (await canaryStatus()).stable_version
  await expect(prod.getByTestId('current')).toContainText(stable.replace(/^sha256:/, '').slice(0, 12))
  await expect(prod.getByTestId('current-canary')).toHaveCount(0)
  // The environment's history has the canary's lines: who moved it, and why it ended.
  const history = prod.getByTestId('history')
  await expect(history.locator('tr.canary-started')).toHaveCount(1)
  await expect(history.locator('tr.canary-step-reached')).toHaveCount(2)
  await expect(history.locator('tr.canary-step-reached').first()).toContainText('step 2 at 50%')
  await expect(history.locator('tr.canary-step-reached').first()).toContainText('admin')
  await expect(history.locator('tr.canary-aborted')).toContainText('latency up at 50%')
  await expect(history.locator('tr.canary-aborted')).toContainText('50%')
  const after = await canaryStatus()
  expect(after.active).toBe(false)
  expect(after.router?.weight ?? 0).toBe(0)
  const { entries } = await wharf.api<{ entries: { actor: string; summary: string }[] }>(
    'GET',
    '/audit?project=hello&type=CanaryAborted',
  )
  expect(entries).toHaveLength(1)
  expect(entries[0].actor).toBe('admin')
  await shot(page, '22-canary-aborted')
})
