import { describe, expect, it } from 'vitest'
import { activitySeries, mergeEvents, runActions, statusWord, stepLogName, stepTitle, type Run, type Step } from '../../src/timeline'
import type { WharfEvent } from '../../src/live'

const ev = (position: number, type = 'BuildStarted'): WharfEvent => ({ position, type, stream: 'run-r1', occurred_at_us: 0, data: {} })
const step = (over: Partial<Step>): Step => ({ kind: 'STEP_KIND_BUILD', environment: '', attempt: 1, status: 'STEP_STATUS_SUCCEEDED', ...over })
const run = (over: Partial<Run>): Run => ({
  run_id: 'r1', project_id: 'p', commit_sha: 'abc', branch: 'main', status: 'RUN_STATUS_RUNNING', reason: '', version: '',
  waiting_for_approval: '', started_at_us: '1', ended_at_us: '0', environments: ['staging', 'prod'], steps: [], ...over,
})

describe('mergeEvents (the live timeline)', () => {
  it('keeps events ordered by position and drops a replayed duplicate', () => {
    let list: WharfEvent[] = []
    for (const p of [3, 1, 2, 2, 3]) list = mergeEvents(list, ev(p))
    expect(list.map((e) => e.position)).toEqual([1, 2, 3])
  })
  it('treats string and number positions alike (64-bit integers arrive as strings)', () => {
    const list = mergeEvents([ev(10)], { ...ev(10), position: '10' as unknown as number })
    expect(list).toHaveLength(1)
  })
  it('keeps only the newest max events', () => {
    let list: WharfEvent[] = []
    for (let p = 1; p <= 10; ++p) list = mergeEvents(list, ev(p), 4)
    expect(list.map((e) => e.position)).toEqual([7, 8, 9, 10])
  })
})

describe('steps and runs', () => {
  it('names steps and their logs as the API does', () => {
    expect(stepTitle(step({}))).toBe('build')
    expect(stepTitle(step({ kind: 'STEP_KIND_DEPLOY', environment: 'prod', attempt: 2 }))).toBe('deploy → prod (attempt 2)')
    expect(stepLogName(step({}))).toBe('build-1')
    expect(stepLogName(step({ kind: 'STEP_KIND_TESTS', environment: 'staging', attempt: 3 }))).toBe('tests-staging-3')
    expect(statusWord('RUN_STATUS_WAITING_FOR_APPROVAL')).toBe('waiting for approval')
  })
  it('offers cancel while running, retry of the failed step, approve while waiting', () => {
    expect(runActions(run({}))).toEqual({ cancel: true, retry: null, approve: '' })
    const failed = step({ kind: 'STEP_KIND_TESTS', environment: 'staging', status: 'STEP_STATUS_FAILED' })
    const done = runActions(run({ status: 'RUN_STATUS_FAILED', steps: [step({}), failed] }))
    expect(done.cancel).toBe(false)
    expect(done.retry).toBe(failed)
    expect(runActions(run({ waiting_for_approval: 'prod' })).approve).toBe('prod')
    expect(runActions(run({ status: 'RUN_STATUS_SUCCEEDED' })).cancel).toBe(false)
  })
})

describe('activitySeries (the project chart)', () => {
  it('buckets deploys, failures and rollbacks up to now', () => {
    const now = 1_000_000_000_000 // µs
    const min = 60e6
    const s = activitySeries(
      [
        { kind: 'HISTORY_KIND_DEPLOY_SUCCEEDED', at_us: now - 11.5 * min },
        { kind: 'HISTORY_KIND_DEPLOY_SUCCEEDED', at_us: now - 10 },
        { kind: 'HISTORY_KIND_DEPLOY_FAILED', at_us: String(now - 20) },
        { kind: 'HISTORY_KIND_ROLLBACK_REQUESTED', at_us: now - 5 * min },
        { kind: 'HISTORY_KIND_DEPLOY_REQUESTED', at_us: now - 30 },
        { kind: 'HISTORY_KIND_DEPLOY_SUCCEEDED', at_us: now + min }, // in the future of ?at=: not counted
      ],
      now,
      12,
    )
    expect(s.labels).toHaveLength(12)
    expect(s.deploys.reduce((a, b) => a + b)).toBe(2)
    expect(s.deploys[0]).toBe(1)
    expect(s.deploys[11]).toBe(1)
    expect(s.failures[11]).toBe(1)
    expect(s.rollbacks.reduce((a, b) => a + b)).toBe(1)
  })
  it('is empty but well-formed with no history', () => {
    const s = activitySeries([], 5e12, 6)
    expect(s.deploys).toEqual([0, 0, 0, 0, 0, 0])
    expect(s.labels).toHaveLength(6)
  })
})
