import { describe, expect, it } from 'vitest'
import { credentialBody, credentialFields, credentialKinds, healthWord } from '../../src/targets'

describe('targets', () => {
  it('offers the credential kinds each target kind takes', () => {
    expect(credentialKinds('kubernetes')).toContain('bearer_token')
    expect(credentialKinds('portainer')).toEqual(['api_key', 'user_password'])
    expect(credentialKinds('jenkins')).toContain('user_token')
    expect(credentialKinds('zookeeper')).toEqual(['user_password', 'none'])
    expect(credentialKinds('other')).toEqual([])
  })
  it('marks the secret fields', () => {
    expect(credentialFields('user_password')).toEqual([
      { name: 'username', secret: false },
      { name: 'password', secret: true },
    ])
    expect(credentialFields('none')).toEqual([])
  })
  it('sends only the fields of the chosen kind', () => {
    const typed = { token: 't0k', api_key: 'left-over', username: 'u' }
    expect(credentialBody('bearer_token', typed)).toEqual({ kind: 'bearer_token', token: 't0k' })
    expect(credentialBody('service_account', typed)).toEqual({ kind: 'service_account' })
  })
  it('says whether a target was probed and answered', () => {
    expect(healthWord({ known: false })).toBe('not probed')
    expect(healthWord({ known: true, reachable: true })).toBe('reachable')
    expect(healthWord({ known: true, reachable: false, error: 'HTTP 401' })).toBe('unreachable')
  })
})
