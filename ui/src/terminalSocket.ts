// The environment terminal's WebSocket (docs/operations.md#terminal-protocol).
// A browser cannot put an Authorization header on a WebSocket handshake, so
// the token travels as a second subprotocol, `wharf.bearer.<base64url>`; the
// server selects `wharf.terminal.v1` when it accepts. base64url because a
// subprotocol must be an HTTP token: no '+', '/' or '='.
import { enc } from './api'

export const terminalProtocol = 'wharf.terminal.v1'
const bearerPrefix = 'wharf.bearer.'

// RFC 4648 §5 over the UTF-8 bytes of `text`, without padding.
export function base64url(text: string): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function terminalProtocols(token: string): string[] {
  return [terminalProtocol, bearerPrefix + base64url(token)]
}

// Same host as the page, ws: or wss: as the page is http: or https:.
export function terminalUrl(page: { protocol: string; host: string }, project: string, environment: string): string {
  const scheme = page.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${page.host}/api/v1/projects/${enc(project)}/environments/${enc(environment)}/terminal`
}

// Control messages go as text frames; input never does.
export function resizeFrame(cols: number, rows: number): string {
  return JSON.stringify({ resize: { cols, rows } })
}

export interface TerminalNote {
  code: string
  message: string
}

// A text frame from wharf: a refused control message in the API's error
// shape. Anything else is shown as it came, so nothing is silently lost.
export function terminalNote(text: string): TerminalNote {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    if (parsed?.error && typeof parsed.error.message === 'string') {
      return { code: typeof parsed.error.code === 'string' ? parsed.error.code : 'error', message: parsed.error.message }
    }
  } catch {
    // not JSON
  }
  return { code: 'note', message: text }
}

// Why the socket closed, in words. A refused handshake (401, 403, 409…) never
// reaches script: the browser reports code 1006 with no reason.
export function closeReason(code: number, reason: string): string {
  if (reason) return reason
  if (code === 1006) return 'connection failed or dropped (the server refused the handshake or could not be reached)'
  if (code === 1000) return 'closed'
  return `closed (code ${code})`
}
