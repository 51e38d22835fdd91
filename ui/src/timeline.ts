// Pure helpers for the run view's live timeline and the other screens:
// merging SSE events (ordered, no duplicates, bounded), naming steps and
// statuses, and the time buckets of the per-project activity chart.
import type { WharfEvent } from './live'

export interface Step {
  kind: string
  environment: string
  attempt: number
  status: string
  started_at_us?: string
  ended_at_us?: string
  requested_at_us?: string
  detail?: string
  deploy_id?: string
  artifact_digest?: string
  actor?: string
  percent?: number
  log_ref?: string
  timed_out?: boolean
  results?: { name: string; passed: boolean; summary: string; duration_ms?: string }[]
}

export interface Run {
  run_id: string
  project_id: string
  commit_sha: string
  branch: string
  status: string
  reason: string
  version: string
  waiting_for_approval: string
  started_at_us: string
  ended_at_us: string
  author?: { username?: string; name?: string; email?: string }
  subject?: string
  change_number?: string
  patchset?: number
  source?: string
  environments: string[]
  steps: Step[]
}

// Adds `incoming` to the ordered list; an event already present (same
// position: a reconnect replay) is not added twice; keeps the newest `max`.
export function mergeEvents(list: WharfEvent[], incoming: WharfEvent, max = 300): WharfEvent[] {
  const pos = Number(incoming.position)
  if (list.some((e) => Number(e.position) === pos)) return list
  const out = [...list, incoming].sort((a, b) => Number(a.position) - Number(b.position))
  return out.length > max ? out.slice(out.length - max) : out
}

// "STEP_STATUS_RUNNING" -> "running"; "RUN_STATUS_WAITING_FOR_APPROVAL" -> "waiting for approval".
export function statusWord(status: string): string {
  return status
    .replace(/^(STEP|RUN)_STATUS_/, '')
    .toLowerCase()
    .replace(/_/g, ' ')
}

export function stepTitle(step: Step): string {
  const kind = step.kind.replace(/^STEP_KIND_/, '').toLowerCase().replace(/_/g, ' ')
  const where = step.environment ? ` → ${step.environment}` : ''
  const attempt = step.attempt > 1 ? ` (attempt ${step.attempt})` : ''
  return kind + where + attempt
}

// The step log's name in GET …/runs/{r}/logs ("build-1", "tests-staging-2").
export function stepLogName(step: Step): string {
  const kind = step.kind.replace(/^STEP_KIND_/, '').toLowerCase()
  return step.environment ? `${kind}-${step.environment}-${step.attempt}` : `${kind}-${step.attempt}`
}

const terminal = ['SUCCEEDED', 'FAILED', 'CANCELLED']
export function runFinished(run: Pick<Run, 'status'>): boolean {
  return terminal.some((t) => run.status.endsWith(t))
}

// Cancel while the run is not over; retry a failed step of a failed run;
// approve while it waits for approval.
export function runActions(run: Run): { cancel: boolean; retry: Step | null; approve: string } {
  const failed = [...run.steps].reverse().find((s) => s.status.endsWith('FAILED')) ?? null
  return {
    cancel: !runFinished(run),
    retry: run.status.endsWith('FAILED') && failed ? failed : null,
    approve: run.waiting_for_approval ?? '',
  }
}

// Does this event change what a project screen shows (and call for a re-read)?
export function touchesRun(event: WharfEvent, runId: string): boolean {
  const d = event.data ?? {}
  return d.run_id === runId || event.correlation_id === runId || event.stream === 'run-' + runId
}

export function shortVersion(version: string): string {
  return version.replace(/^sha256:/, '').slice(0, 12)
}

export function formatTime(us: string | number | undefined): string {
  const n = Number(us ?? 0)
  if (!n) return '—'
  return new Date(n / 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

export function duration(fromUs?: string, toUs?: string): string {
  const a = Number(fromUs ?? 0)
  const b = Number(toUs ?? 0)
  if (!a || !b || b < a) return ''
  const ms = (b - a) / 1000
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

export interface ActivityPoint {
  kind: string // HISTORY_KIND_DEPLOY_SUCCEEDED, ..._FAILED, ..._ROLLBACK_REQUESTED
  at_us: string | number
}
export interface ActivitySeries {
  labels: string[]
  starts: number[] // bucket start, µs
  deploys: number[]
  failures: number[]
  rollbacks: number[]
}

// Buckets deploy outcomes into `buckets` equal slices from the first event to
// `nowUs` (at least one minute wide).
export function activitySeries(points: ActivityPoint[], nowUs: number, buckets = 12): ActivitySeries {
  const series: ActivitySeries = { labels: [], starts: [], deploys: [], failures: [], rollbacks: [] }
  const times = points.map((p) => Number(p.at_us)).filter((t) => t > 0)
  const first = times.length ? Math.min(...times) : nowUs - 60e6 * buckets
  const width = Math.max(60e6, Math.ceil((nowUs - first + 1) / buckets))
  const start = nowUs - width * buckets + 1
  for (let i = 0; i < buckets; ++i) {
    const at = start + i * width
    series.starts.push(at)
    series.labels.push(new Date(at / 1000).toISOString().slice(11, 16))
    series.deploys.push(0)
    series.failures.push(0)
    series.rollbacks.push(0)
  }
  for (const p of points) {
    const t = Number(p.at_us)
    if (!(t >= start && t <= nowUs)) continue
    const i = Math.min(buckets - 1, Math.floor((t - start) / width))
    if (p.kind.endsWith('DEPLOY_SUCCEEDED')) series.deploys[i]++
    else if (p.kind.endsWith('DEPLOY_FAILED')) series.failures[i]++
    else if (p.kind.endsWith('ROLLBACK_REQUESTED')) series.rollbacks[i]++
  }
  return series
}
