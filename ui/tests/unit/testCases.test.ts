import { describe, expect, it } from 'vitest'
import { durationText, latestResults, testCasesRequest, type TestRunLine } from '../../src/testCases'

const declared = [
  { name: 'smoke', command: 'curl -fs $WHARF_TARGET_URL/healthz', timeout_s: 30 },
  { name: 'checkout', command: './e2e/checkout.sh', timeout_s: 300 },
  { name: 'version', command: 'curl -fs $WHARF_TARGET_URL/version', timeout_s: 10 },
]

describe('test case selection', () => {
  it('asks for the ticked cases in the order the environment declares them', () => {
    expect(testCasesRequest(declared, ['version', 'smoke'])).toEqual({ cases: ['smoke', 'version'] })
    expect(testCasesRequest(declared, new Set(['checkout']))).toEqual({ cases: ['checkout'] })
  })
  it('drops names the environment no longer declares and repeats', () => {
    expect(testCasesRequest(declared, ['gone', 'smoke', 'smoke'])).toEqual({ cases: ['smoke'] })
  })
  it('sends nothing for an empty selection (the API would run every case)', () => {
    expect(testCasesRequest(declared, [])).toBeNull()
    expect(testCasesRequest(declared, ['gone'])).toBeNull()
  })
})

describe('test case results', () => {
  const line = (kind: string, test_run_id: string): TestRunLine => ({ kind, test_run_id, version: '1.0.0', at_us: '0' })
  it('shows the newest finished run (history newest first)', () => {
    const history = [
      line('HISTORY_KIND_TEST_CASES_REQUESTED', 't-3'),
      line('HISTORY_KIND_TEST_CASES_FINISHED', 't-2'),
      line('HISTORY_KIND_DEPLOY_SUCCEEDED', ''),
      line('HISTORY_KIND_TEST_CASES_FINISHED', 't-1'),
    ]
    expect(latestResults(history)?.test_run_id).toBe('t-2')
    expect(latestResults([line('HISTORY_KIND_DEPLOY_SUCCEEDED', '')])).toBeUndefined()
  })
  it('writes durations in ms below a second, else in seconds', () => {
    expect(durationText('340')).toBe('340 ms')
    expect(durationText(1234)).toBe('1.23 s')
    expect(durationText('61000')).toBe('61.0 s')
    expect(durationText(undefined)).toBe('0 ms')
  })
})
