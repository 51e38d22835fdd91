// The only way the UI talks to wharf: /api/v1 over fetch with the bearer
// token, and the SSE stream (live.ts). Every failure becomes an ApiError
// carrying the API's own error.code / error.message.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message)
  }
}

// The API's error body {"error":{"code","message","details"}} -> ApiError;
// anything else (proxy page, network) -> a readable fallback.
export function toApiError(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string; details?: unknown } }
    if (parsed && parsed.error && typeof parsed.error.message === 'string') {
      return new ApiError(status, parsed.error.code ?? 'error', parsed.error.message, parsed.error.details ?? null)
    }
  } catch {
    // not JSON
  }
  const text = body.trim().slice(0, 200)
  return new ApiError(status, 'http_' + status, `HTTP ${status}${text ? ': ' + text : ''}`)
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof TypeError) return 'cannot reach wharf (' + e.message + ')'
  if (e instanceof Error) return e.message
  return String(e)
}

let token = ''
export function setToken(t: string) {
  token = t
}
export function getToken() {
  return token
}

export type Query = Record<string, string | number | undefined | null>

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  }
  const q = params.toString()
  return q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path
}

export interface RawResponse {
  status: number
  headers: Headers
  text: string
}

export async function raw(method: string, path: string, body?: unknown, query?: Query): Promise<RawResponse> {
  const headers: Record<string, string> = {}
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(withQuery('/api/v1' + path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw toApiError(res.status, text)
  return { status: res.status, headers: res.headers, text }
}

export async function get<T>(path: string, query?: Query): Promise<T> {
  return JSON.parse((await raw('GET', path, undefined, query)).text) as T
}
export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  return JSON.parse((await raw('POST', path, body)).text) as T
}
export async function put<T>(path: string, body: unknown): Promise<T> {
  return JSON.parse((await raw('PUT', path, body)).text) as T
}

// A file download that needs the bearer header (an <a href> cannot send it).
export async function download(path: string, query?: Query): Promise<{ blob: Blob; filename: string }> {
  const headers: Record<string, string> = {}
  if (token) headers.Authorization = `Bearer ${token}`
  const res = await fetch(withQuery('/api/v1' + path, query), { headers })
  if (!res.ok) throw toApiError(res.status, await res.text())
  const disposition = res.headers.get('Content-Disposition') ?? ''
  const match = /filename="([^"]+)"/.exec(disposition)
  return { blob: await res.blob(), filename: match ? match[1] : 'wharf-export.wexp' }
}

// Command answers (202).
export interface CommandReply {
  command: string
  stream: string
  position: string
  run_id?: string
  deploy_id?: string
  rollback_id?: string
  request_id?: string
}

export const enc = encodeURIComponent
