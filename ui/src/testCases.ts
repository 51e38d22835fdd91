// An environment's named test cases (docs/operations.md#test-cases): declared
// in the project's environment spec (GET /projects/P: environments[].test_cases),
// the latest run summarised in the environment (last_test_cases), its
// per-case results on the history line TEST_CASES_FINISHED.
export interface DeclaredTestCase {
  name: string
  command: string
  timeout_s: number
}

export interface TestCasesSummary {
  test_run_id: string
  deploy_id: string
  version: string
  trigger: string // "manual" or "after-deploy"
  requested_by: string
  cases: string[]
  status: string // "running", "passed", "failed" ("" before the first run)
  passed: number
  failed: number
  requested_at_us: string
  finished_at_us: string
  duration_ms: string
}

export interface TestCaseResult {
  name: string
  passed: boolean
  summary: string
  duration_ms: string
  output: string
}

// The fields of a history line a test case run needs.
export interface TestRunLine {
  kind: string
  test_run_id?: string
  test_results?: TestCaseResult[]
  passed?: boolean
  reason?: string
  version: string
  at_us: string
}

// The request for the ticked cases, in the order the environment declares
// them. Never an empty list: the API reads "no cases" as "every case", which
// is not what an empty selection means here.
export function testCasesRequest(declared: DeclaredTestCase[], selected: Iterable<string>): { cases: string[] } | null {
  const picked = new Set(selected)
  const cases = declared.map((c) => c.name).filter((name) => picked.has(name))
  return cases.length > 0 ? { cases } : null
}

// The results to show: the latest finished run's history line, newest first
// in `history`. Whether it is the summary's run tells if a newer one is going.
export function latestResults(history: TestRunLine[]): TestRunLine | undefined {
  return history.find((h) => h.kind === 'HISTORY_KIND_TEST_CASES_FINISHED')
}

export function durationText(ms: string | number | undefined): string {
  const n = Number(ms ?? 0)
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`
}
