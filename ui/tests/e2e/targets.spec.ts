// The Targets page against a real `wharf serve` (docs/targets.md): an admin
// registers a cluster with a marker token through the form, sees it listed
// with the environment that names it, checks it now (the URL answers
// nothing: unreachable) and rotates the credential; the environment shows
// its target's name; a viewer sees the target but no form. The marker
// tokens are in no response the browser received and nowhere on the page.
import { test, expect, type Page } from '@playwright/test'
import { Wharf, shot } from './wharf'

const wharf = new Wharf()

test.beforeAll(async () => {
  await wharf.start()
})
test.afterAll(async () => {
  await wharf.stop()
})

async function signIn(page: Page, token: string, user: string) {
  await page.goto(wharf.url + '/')
  await page.getByTestId('token').fill(token)
  await page.getByTestId('token').press('Enter')
  await expect(page.getByTestId('whoami')).toContainText(user)
}

// Every response body the page received, for the marker search.
function recordResponses(page: Page): string[] {
  const bodies: string[] = []
  page.on('response', (r) => {
    r.text().then(
      (t) => bodies.push(t),
      () => {}, // a stream still open (SSE) or a redirect: no body to read
    )
  })
  return bodies
}

test('register, list with users and health, rotate; credentials never come back', async ({ browser, page }) => {
  const marker = 'uiCanaryToken' + Math.random().toString(36).slice(2)
  const rotated = 'uiCanaryRotated' + Math.random().toString(36).slice(2)
  const seen = recordResponses(page)

  await signIn(page, wharf.adminToken, 'admin')
  await page.getByRole('link', { name: 'Targets', exact: true }).click()
  await expect(page.getByTestId('empty')).toContainText('No targets')

  // Register through the form; the token field is a password input.
  await page.getByTestId('register-name').fill('eu-k8s')
  await page.getByTestId('register-kind').selectOption('kubernetes')
  await page.getByTestId('register-url').fill('https://127.0.0.1:9')
  await page.getByTestId('register-credential').selectOption('bearer_token')
  await expect(page.getByTestId('register-token')).toHaveAttribute('type', 'password')
  await page.getByTestId('register-token').fill(marker)
  await page.getByTestId('register-submit').click()
  const card = page.locator('[data-target="eu-k8s"]')
  await expect(card.getByTestId('target-url')).toHaveText('https://127.0.0.1:9')
  await expect(card.getByTestId('target-credential')).toContainText('bearer_token · version 1')
  await expect(card.getByTestId('target-used-by')).toContainText('no environment')

  // An environment names it; the page follows the log.
  await wharf.api('POST', '/projects', {
    project_id: 'shop',
    repository: { local_git: { path: '/nonexistent/shop', branch: 'main' } },
    environments: [{ name: 'prod', target: 'kubernetes', target_ref: 'eu-k8s', settings: { deployment: 'shop' } }],
  })
  await page.reload()
  await expect(card.getByTestId('target-used-by')).toContainText('shop/prod')

  // Check now: nothing listens there.
  await card.getByTestId('target-check-now').click()
  await expect(card.getByTestId('target-check')).toContainText('unreachable')

  // Rotate through the form.
  await card.getByTestId('target-rotate').click()
  await card.getByTestId('rotate-token').fill(rotated)
  await card.getByTestId('rotate-reason').fill('ui test')
  await card.getByTestId('rotate-submit').click()
  await expect(card.getByTestId('target-credential')).toContainText('version 2')
  await shot(page, 'targets-admin')

  // The environment shows the name of its target, linked to the page.
  await page.goto(wharf.url + '/projects/shop/environments')
  await expect(page.locator('[data-env="prod"]').getByTestId('env-target')).toHaveText('target: eu-k8s')

  // A viewer sees the target, not the forms.
  await wharf.api('POST', '/projects/shop/permissions', { user: 'vera', role: 'viewer' })
  const viewerToken = await wharf.tokenFor('vera')
  const other = await browser.newPage()
  const seenByViewer = recordResponses(other)
  await signIn(other, viewerToken, 'vera')
  await other.goto(wharf.url + '/targets')
  await expect(other.locator('[data-target="eu-k8s"]').getByTestId('target-credential')).toContainText('version 2')
  await expect(other.getByTestId('register-form')).toHaveCount(0)
  await expect(other.getByTestId('target-rotate')).toHaveCount(0)

  // Nothing the browsers received holds either token.
  for (const text of [...seen, ...seenByViewer, await page.content(), await other.content()]) {
    expect(text).not.toContain(marker)
    expect(text).not.toContain(rotated)
  }
  expect(seen.join('')).toContain('eu-k8s')
  await other.close()
})
