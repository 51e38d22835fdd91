// TestCasesPanel mounted over a fake fetch: checkboxes and Run only for those
// who may run cases, the POST body is the ticked cases, and the results of
// the latest finished run show with their output.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import TestCasesPanel from '../../src/components/TestCasesPanel.vue'
import type { TestRunLine } from '../../src/testCases'

const declared = [
  { name: 'smoke', command: 'curl -fs $WHARF_TARGET_URL/healthz', timeout_s: 30 },
  { name: 'version', command: 'curl -fs $WHARF_TARGET_URL/version', timeout_s: 10 },
]
const finished: TestRunLine = {
  kind: 'HISTORY_KIND_TEST_CASES_FINISHED',
  test_run_id: 't-1',
  version: '1.0.0',
  at_us: '1700000000000000',
  passed: false,
  reason: 'version failed',
  test_results: [
    { name: 'smoke', passed: true, summary: 'exit 0', duration_ms: '12', output: 'ok\n' },
    { name: 'version', passed: false, summary: 'exit 1', duration_ms: '1500', output: 'curl: (7) refused\n' },
  ],
}
const summary = {
  test_run_id: 't-1', deploy_id: 'd-1', version: '1.0.0', trigger: 'manual', requested_by: 'dora', cases: ['smoke', 'version'],
  status: 'failed', passed: 1, failed: 1, requested_at_us: '1700000000000000', finished_at_us: '1700000001000000', duration_ms: '1512',
}

afterEach(() => vi.unstubAllGlobals())

const mountPanel = (canRun: boolean) =>
  mount(TestCasesPanel, {
    props: { project: 'hello', environment: 'staging', declared, summary, history: [finished], canRun },
  })

describe('TestCasesPanel', () => {
  it('posts the ticked cases in declared order', async () => {
    const calls: { url: string; body: string }[] = []
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, body: String(init.body) })
      return new Response(JSON.stringify({ command: 'RequestTestCases', stream: 'env-hello-staging', position: '9' }), { status: 202 })
    })
    const w = mountPanel(true)
    const run = w.get('[data-test=run-test-cases]')
    expect(run.attributes('disabled')).toBeDefined() // nothing ticked yet
    await w.get('[data-test=case-version]').setValue(true)
    await w.get('[data-test=case-smoke]').setValue(true)
    await run.trigger('submit')
    await flushPromises()
    expect(calls).toEqual([
      { url: '/api/v1/projects/hello/environments/staging/test-cases', body: JSON.stringify({ cases: ['smoke', 'version'] }) },
    ])
  })
  it('shows a viewer the cases and results but no checkbox or Run', () => {
    const w = mountPanel(false)
    expect(w.find('[data-test=run-test-cases]').exists()).toBe(false)
    expect(w.find('input[type=checkbox]').exists()).toBe(false)
    expect(w.text()).toContain('smoke')
    expect(w.get('[data-test=test-cases-status]').text()).toBe('failed')
    const failed = w.get('tr[data-case=version]')
    expect(failed.text()).toContain('failed')
    expect(failed.text()).toContain('1.50 s')
    expect(failed.get('[data-test=case-output]').text()).toContain('curl: (7) refused')
  })
})
