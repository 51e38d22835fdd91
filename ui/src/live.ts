// Live progress: the API's SSE stream (/api/v1/events/stream) read with
// fetch, so the bearer token travels in a header and every frame type
// arrives (EventSource only reports named events it was told about).
// Reconnects with Last-Event-ID: no gap, no duplicate.
import { getToken, withQuery } from './api'

export interface WharfEvent {
  position: number
  stream: string
  type: string
  occurred_at_us: number | string
  actor?: { id?: string; channel?: string }
  correlation_id?: string
  data: Record<string, unknown>
}

export interface SseFrame {
  id: string
  event: string
  data: string
}

// Incremental text/event-stream parser: feed() chunks, get whole frames.
export class SseParser {
  private buffer = ''
  private frame: SseFrame = { id: '', event: '', data: '' }
  private dataLines: string[] = []

  feed(chunk: string): SseFrame[] {
    this.buffer += chunk
    const out: SseFrame[] = []
    for (;;) {
      const nl = this.buffer.search(/\r\n|\n|\r/)
      if (nl < 0) break
      const line = this.buffer.slice(0, nl)
      const skip = this.buffer.startsWith('\r\n', nl) ? 2 : 1
      this.buffer = this.buffer.slice(nl + skip)
      if (line === '') {
        if (this.dataLines.length > 0) {
          out.push({ ...this.frame, data: this.dataLines.join('\n') })
        }
        this.frame = { id: this.frame.id, event: '', data: '' }
        this.dataLines = []
        continue
      }
      if (line.startsWith(':')) continue // comment / heartbeat
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') this.dataLines.push(value)
      else if (field === 'event') this.frame.event = value
      else if (field === 'id') this.frame.id = value
    }
    return out
  }
}

// The frames of an open text/event-stream body, a batch per chunk read, until
// the server ends it (or the fetch is aborted: the read rejects).
export async function* sseBatches(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame[]> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  const parser = new SseParser()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    yield parser.feed(decoder.decode(value, { stream: true }))
  }
}

export interface StreamOptions {
  project?: string
  run?: string
  onEvent: (event: WharfEvent) => void
  onState?: (state: 'connecting' | 'live' | 'retrying') => void
}

// Opens the stream; returns a function that closes it.
export function openStream(options: StreamOptions): () => void {
  let stopped = false
  let lastId = ''
  let controller: AbortController | null = null
  let delay = 500

  const loop = async () => {
    while (!stopped) {
      options.onState?.('connecting')
      controller = new AbortController()
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream' }
        const token = getToken()
        if (token) headers.Authorization = `Bearer ${token}`
        if (lastId) headers['Last-Event-ID'] = lastId
        const res = await fetch(
          withQuery('/api/v1/events/stream', { project: options.project, run: options.run }),
          { headers, signal: controller.signal },
        )
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`)
        options.onState?.('live')
        delay = 500
        for await (const frames of sseBatches(res.body)) {
          for (const frame of frames) {
            if (frame.id) lastId = frame.id
            try {
              options.onEvent(JSON.parse(frame.data) as WharfEvent)
            } catch {
              // a frame we cannot read is skipped; the next refetch catches up
            }
          }
        }
      } catch {
        if (stopped) return
      }
      if (stopped) return
      options.onState?.('retrying')
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 2, 5000)
    }
  }
  void loop()
  return () => {
    stopped = true
    controller?.abort()
  }
}
