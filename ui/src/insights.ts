// Types of GET /api/v1/landscape and /api/v1/insights (docs/insights.md) and
// the small formatting the Landscape and Insights pages share.

export interface CanaryInProgress { canary_id: string; version: string; step: number; weight: number; stable_version: string }
export interface LandscapeCell {
  project_id: string
  environment: string
  version: string
  deploy_id: string
  event_id: string
  since_position: string
  since_us: string
  deployed_by: string
  rollback: boolean
  canary?: CanaryInProgress
  health: string
  health_since_us: string
  defined: boolean
  next_environment: string
  ahead_of_next: string
}
export interface LandscapeProject { project_id: string; name: string; environments: LandscapeCell[] }
export interface Landscape { position: string; projects: LandscapeProject[]; next_cursor?: string }

export interface EventRef { position: string; event_id: string; at_us: string; kind: string; detail: string }
export interface DeploymentFact {
  project_id: string
  environment: string
  position: string
  event_id: string
  deployed_at_us: string
  deploy_id: string
  version: string
  deployed_by: string
  rollback: boolean
  canary: boolean
  commit_sha: string
  commit_position: string
  has_lead_time: boolean
  lead_time_us: string
  failure?: EventRef
  restore?: EventRef
}
export interface Figures {
  deployments: number
  deployments_per_day: number
  rollbacks: number
  lead_time_samples: number
  lead_time_median_s: number
  lead_time_p90_s: number
  failed_deployments: number
  change_failure_rate: number
  restores: number
  time_to_restore_median_s: number
  time_to_restore_p90_s: number
  unrestored: number
}
export interface Bucket { start_us: string; start: string; end_us: string; figures: Figures }
export interface Group { project_id: string; environment: string; figures: Figures }
export interface InsightsReport {
  position: string
  from: string
  to: string
  bucket: string
  failure_window_s: string
  total: Figures
  buckets: Bucket[]
  groups: Group[]
  deployments: DeploymentFact[]
  next_cursor?: string
}

// 5400 -> "1.5 h"; 0 -> "0 s".
export function duration(seconds: number): string {
  if (!seconds) return '0 s'
  if (seconds < 120) return `${Math.round(seconds)} s`
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`
  return `${(seconds / 86400).toFixed(1)} d`
}

export function percent(rate: number): string {
  return `${(100 * rate).toFixed(1)}%`
}

// "ahead of prod by 2" / "" when unknown or level.
export function driftText(c: LandscapeCell): string {
  const n = Number(c.ahead_of_next || 0)
  if (!c.next_environment || n === 0) return ''
  return n > 0 ? `ahead of ${c.next_environment} by ${n}` : `behind ${c.next_environment} by ${-n}`
}

export function healthWord(h: string): string {
  if (h === 'HEALTH_STATE_HEALTHY') return 'healthy'
  if (h === 'HEALTH_STATE_UNHEALTHY') return 'unhealthy'
  return 'not probed'
}

export function failureWord(kind: string): string {
  return (
    { rollback_requested: 'rolled back', canary_aborted: 'canary aborted', health_unhealthy: 'unhealthy' } as Record<string, string>
  )[kind] ?? kind
}
