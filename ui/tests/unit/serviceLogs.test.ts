import { afterEach, describe, expect, it, vi } from 'vitest'
import { setToken } from '../../src/api'
import { appendBounded, followServiceLogs, logLine, logsPath, type LogLine } from '../../src/serviceLogs'

afterEach(() => {
  vi.unstubAllGlobals()
  setToken('')
})

// A streamed response body delivering `chunks` one read at a time.
function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c))
      controller.close()
    },
  })
}

describe('service log lines', () => {
  it('turns log frames into lines and error frames into error lines', () => {
    expect(logLine({ id: '', event: 'log', data: 'hello-service 1.0.0 listening' })).toEqual({
      kind: 'log',
      text: 'hello-service 1.0.0 listening',
    })
    expect(logLine({ id: '', event: 'log', data: '' })).toEqual({ kind: 'log', text: '' })
    expect(logLine({ id: '', event: 'error', data: 'instance exited' })).toEqual({ kind: 'error', text: 'instance exited' })
    expect(logLine({ id: '', event: 'other', data: 'x' })).toBeNull()
  })
  it('keeps at most the newest `max` lines and counts the dropped ones', () => {
    const lines = [1, 2, 3]
    expect(appendBounded(lines, [4, 5], 4)).toBe(1)
    expect(lines).toEqual([2, 3, 4, 5])
    expect(appendBounded(lines, [6], 10)).toBe(0)
    expect(lines).toEqual([2, 3, 4, 5, 6])
  })
  it('asks for a followed SSE tail', () => {
    expect(logsPath('my shop', 'prod', 200)).toBe('/api/v1/projects/my%20shop/environments/prod/logs?follow=true&tail=200&format=sse')
  })
})

describe('following service logs', () => {
  it('sends the bearer token and hands over lines as frames complete, across chunks', async () => {
    const calls: { url: string; init: RequestInit }[] = []
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init })
      return new Response(
        streamOf(['retry: 2000\n\nevent: log\ndata: first\n\nevent: log\nda', 'ta: second\n\n', 'event: error\ndata: instance exited\n\n']),
        { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
      )
    })
    setToken('wharf_abc')
    const got: LogLine[][] = []
    let opened = false
    await followServiceLogs('hello', 'staging', {
      tail: 200,
      signal: new AbortController().signal,
      onOpen: () => (opened = true),
      onLines: (lines) => got.push(lines),
    })
    expect(opened).toBe(true)
    expect(calls[0].url).toBe('/api/v1/projects/hello/environments/staging/logs?follow=true&tail=200&format=sse')
    const headers = calls[0].init.headers as Record<string, string>
    expect(headers.Authorization).toBe('Bearer wharf_abc')
    expect(headers.Accept).toBe('text/event-stream')
    expect(got).toEqual([
      [{ kind: 'log', text: 'first' }],
      [{ kind: 'log', text: 'second' }],
      [{ kind: 'error', text: 'instance exited' }],
    ])
  })
  it("rejects with the API's message when the stream is refused", async () => {
    vi.stubGlobal('fetch', async () =>
      new Response(JSON.stringify({ error: { code: 'nothing_serving', message: 'no instance of staging is running' } }), {
        status: 409,
      }),
    )
    const onLines = vi.fn()
    await expect(
      followServiceLogs('hello', 'staging', { tail: 200, signal: new AbortController().signal, onLines }),
    ).rejects.toThrow('no instance of staging is running')
    expect(onLines).not.toHaveBeenCalled()
  })
})
