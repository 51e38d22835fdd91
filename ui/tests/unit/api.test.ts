import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, errorMessage, post, setToken, toApiError, withQuery } from '../../src/api'

afterEach(() => vi.unstubAllGlobals())

describe('API errors', () => {
  it("shows the API's error.message and keeps code and details", () => {
    const e = toApiError(403, JSON.stringify({ error: { code: 'forbidden', message: 'user "vera" needs role deployer on project "shop"', details: { missing_role: 'deployer' } } }))
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(403)
    expect(e.code).toBe('forbidden')
    expect(errorMessage(e)).toBe('user "vera" needs role deployer on project "shop"')
    expect(e.details).toEqual({ missing_role: 'deployer' })
  })
  it('falls back to a readable message for a non-API body', () => {
    expect(toApiError(502, '<html>Bad gateway</html>').message).toBe('HTTP 502: <html>Bad gateway</html>')
    expect(toApiError(500, '').message).toBe('HTTP 500')
    expect(errorMessage(new TypeError('Failed to fetch'))).toBe('cannot reach wharf (Failed to fetch)')
  })
  it('sends the bearer token and JSON, and throws the mapped error', async () => {
    const calls: { url: string; init: RequestInit }[] = []
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init })
      return new Response(JSON.stringify({ error: { code: 'rejected', message: 'run is not waiting for an approval' } }), { status: 409 })
    })
    setToken('wharf_abc')
    await expect(post('/projects/p/runs/r/approve', {})).rejects.toThrow('run is not waiting for an approval')
    expect(calls[0].url).toBe('/api/v1/projects/p/runs/r/approve')
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer wharf_abc')
    expect(calls[0].init.method).toBe('POST')
  })
  it('builds query strings without empty values', () => {
    expect(withQuery('/x', { a: 'b c', empty: '', none: undefined, n: 0 })).toBe('/x?a=b+c&n=0')
    expect(withQuery('/x')).toBe('/x')
  })
})
