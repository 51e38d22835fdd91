import { describe, expect, it } from 'vitest'
import {
  base64url,
  closeReason,
  resizeFrame,
  terminalNote,
  terminalProtocols,
  terminalUrl,
} from '../../src/terminalSocket'

describe('terminal handshake', () => {
  it('encodes the token as base64url of its UTF-8 bytes, without padding', () => {
    expect(base64url('wharf_t0k3n')).toBe('d2hhcmZfdDBrM24')
    expect(base64url('a')).toBe('YQ') // '==' dropped
    expect(base64url('ab')).toBe('YWI') // '=' dropped
    expect(base64url('?>?~')).toBe('Pz4_fg') // '/' becomes '_'
    expect(base64url('é€')).toBe('w6nigqw') // multi-byte UTF-8
    expect(base64url('\u00fb\u00ef')).toBe(Buffer.from('\u00fb\u00ef', 'utf8').toString('base64url'))
    expect(base64url('')).toBe('')
  })
  it('offers the terminal protocol first and the token as a subprotocol an HTTP token can carry', () => {
    const protocols = terminalProtocols('wharf_t0k3n')
    expect(protocols).toEqual(['wharf.terminal.v1', 'wharf.bearer.d2hhcmZfdDBrM24'])
    for (const p of protocols) expect(p).toMatch(/^[A-Za-z0-9._-]+$/)
  })
  it('builds the ws URL on the page host, wss under https, with the names encoded', () => {
    expect(terminalUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, 'hello', 'staging')).toBe(
      'ws://127.0.0.1:8080/api/v1/projects/hello/environments/staging/terminal',
    )
    expect(terminalUrl({ protocol: 'https:', host: 'wharf.example.com' }, 'my shop', 'eu/prod')).toBe(
      'wss://wharf.example.com/api/v1/projects/my%20shop/environments/eu%2Fprod/terminal',
    )
  })
})

describe('terminal frames', () => {
  it('sends a resize as the JSON control message', () => {
    expect(JSON.parse(resizeFrame(120, 40))).toEqual({ resize: { cols: 120, rows: 40 } })
  })
  it("reads wharf's text frames as API errors, and keeps anything else as it came", () => {
    const refused = JSON.stringify({
      error: { code: 'invalid_value', message: 'resize.cols must be 1..65535', details: { field: 'resize.cols' } },
    })
    expect(terminalNote(refused)).toEqual({ code: 'invalid_value', message: 'resize.cols must be 1..65535' })
    expect(terminalNote('{"resize":{}}')).toEqual({ code: 'note', message: '{"resize":{}}' })
    expect(terminalNote('plain words')).toEqual({ code: 'note', message: 'plain words' })
  })
  it("gives the server's close reason, or says what a bare code means", () => {
    expect(closeReason(1000, 'shell exited 0')).toBe('shell exited 0')
    expect(closeReason(1000, 'idle timeout')).toBe('idle timeout')
    expect(closeReason(1006, '')).toMatch(/refused the handshake/)
    expect(closeReason(1011, '')).toBe('closed (code 1011)')
  })
})
