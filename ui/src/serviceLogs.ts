// A running service's output (GET …/environments/E/logs, docs/operations.md):
// read with fetch so the bearer token goes in a header, as SSE so each line
// arrives as one `event: log` frame and a failure as one `event: error`.
import { enc, getToken, toApiError, withQuery } from './api'
import { sseBatches, type SseFrame } from './live'

export interface LogLine {
  kind: 'log' | 'error'
  text: string
}

export function logsPath(project: string, environment: string, tail: number): string {
  return withQuery(`/api/v1/projects/${enc(project)}/environments/${enc(environment)}/logs`, {
    follow: 'true',
    tail,
    format: 'sse',
  })
}

// One frame -> one line; frames of other kinds (none today) are not output.
export function logLine(frame: SseFrame): LogLine | null {
  if (frame.event === 'log') return { kind: 'log', text: frame.data }
  if (frame.event === 'error') return { kind: 'error', text: frame.data }
  return null
}

// Appends, dropping the oldest lines beyond `max`, so a chatty service left
// open all day does not grow the page without end. Returns how many were dropped.
export function appendBounded<T>(lines: T[], more: T[], max: number): number {
  lines.push(...more)
  const over = lines.length - max
  if (over > 0) lines.splice(0, over)
  return Math.max(over, 0)
}

// Follows until the server ends the stream (resolves) or `signal` aborts
// (rejects with an AbortError). A refusal before the stream (409 nothing
// serving, 403, 502…) rejects with the API's error.
export async function followServiceLogs(
  project: string,
  environment: string,
  options: { tail: number; signal: AbortSignal; onOpen?: () => void; onLines: (lines: LogLine[]) => void },
): Promise<void> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  const res = await fetch(logsPath(project, environment, options.tail), { headers, signal: options.signal })
  if (!res.ok || !res.body) throw toApiError(res.status, await res.text())
  options.onOpen?.()
  for await (const frames of sseBatches(res.body)) {
    const lines = frames.map(logLine).filter((l): l is LogLine => l !== null)
    if (lines.length > 0) options.onLines(lines)
  }
}
