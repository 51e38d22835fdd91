import { describe, expect, it } from 'vitest'
import { driftText, duration, failureWord, healthWord, percent, type LandscapeCell } from '../../src/insights'

const cell = (over: Partial<LandscapeCell>): LandscapeCell => ({
  project_id: 'shop', environment: 'staging', version: 'v5', deploy_id: 'd9', event_id: 'e', since_position: '1',
  since_us: '0', deployed_by: 'ci', rollback: false, health: 'HEALTH_STATE_UNSPECIFIED', health_since_us: '0',
  defined: true, next_environment: 'prod', ahead_of_next: '0', ...over,
})

describe('insights formatting', () => {
  it('says how far an environment is from the next one (int64 arrives as a string)', () => {
    expect(driftText(cell({ ahead_of_next: '2' }))).toBe('ahead of prod by 2')
    expect(driftText(cell({ ahead_of_next: '-1' }))).toBe('behind prod by 1')
    expect(driftText(cell({ ahead_of_next: '0' }))).toBe('')
    expect(driftText(cell({ ahead_of_next: '3', next_environment: '' }))).toBe('')
  })
  it('prints durations, rates, health and failure kinds', () => {
    expect(duration(0)).toBe('0 s')
    expect(duration(90)).toBe('90 s')
    expect(duration(600)).toBe('10.0 min')
    expect(duration(5400)).toBe('90.0 min')
    expect(duration(10800)).toBe('3.0 h')
    expect(duration(3 * 86400)).toBe('3.0 d')
    expect(percent(0.25)).toBe('25.0%')
    expect(healthWord('HEALTH_STATE_HEALTHY')).toBe('healthy')
    expect(healthWord('')).toBe('not probed')
    expect(failureWord('rollback_requested')).toBe('rolled back')
    expect(failureWord('canary_aborted')).toBe('canary aborted')
  })
})
