import { describe, expect, it } from 'vitest'
import { SseParser } from '../../src/live'

describe('SseParser', () => {
  it('assembles frames split across chunks', () => {
    const p = new SseParser()
    expect(p.feed('id: 7\nevent: BuildStarted\nda')).toEqual([])
    expect(p.feed('ta: {"position":7}\n')).toEqual([])
    expect(p.feed('\n')).toEqual([{ id: '7', event: 'BuildStarted', data: '{"position":7}' }])
  })
  it('handles CRLF, comments (heartbeats) and several frames in one chunk', () => {
    const p = new SseParser()
    const frames = p.feed(': heartbeat\r\n\r\nid: 1\r\nevent: A\r\ndata: x\r\n\r\nid: 2\r\nevent: B\r\ndata: y\r\n\r\n')
    expect(frames.map((f) => [f.id, f.event, f.data])).toEqual([
      ['1', 'A', 'x'],
      ['2', 'B', 'y'],
    ])
  })
  it('joins multi-line data and keeps the last id for frames without one', () => {
    const p = new SseParser()
    const frames = p.feed('id: 5\ndata: a\ndata: b\n\ndata: c\n\n')
    expect(frames).toEqual([
      { id: '5', event: '', data: 'a\nb' },
      { id: '5', event: '', data: 'c' },
    ])
  })
})
