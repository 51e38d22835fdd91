import { describe, expect, it } from 'vitest'
import { can, hasRole, roleOn, type Me } from '../../src/roles'

const me = (roles: [string, string][], admin = false): Me => ({
  user: 'u', admin, token_id: 't', roles: roles.map(([project, role]) => ({ project, role })),
})

describe('role gating', () => {
  it('follows viewer < deployer < owner per project', () => {
    const m = me([['shop', 'viewer'], ['blog', 'deployer'], ['wiki', 'owner']])
    expect(hasRole(m, 'shop', 'viewer')).toBe(true)
    expect(hasRole(m, 'shop', 'deployer')).toBe(false)
    expect(hasRole(m, 'blog', 'deployer')).toBe(true)
    expect(hasRole(m, 'blog', 'owner')).toBe(false)
    expect(hasRole(m, 'wiki', 'owner')).toBe(true)
    expect(hasRole(m, 'other', 'viewer')).toBe(false)
  })
  it('maps actions to roles: a viewer cannot deploy or roll back, a deployer cannot edit the template', () => {
    const viewer = me([['shop', 'viewer']])
    const deployer = me([['shop', 'deployer']])
    expect(can(viewer, 'shop', 'deploy')).toBe(false)
    expect(can(viewer, 'shop', 'rollback')).toBe(false)
    expect(can(deployer, 'shop', 'deploy')).toBe(true)
    expect(can(deployer, 'shop', 'approve')).toBe(true)
    expect(can(deployer, 'shop', 'editTemplate')).toBe(false)
    expect(can(me([['shop', 'owner']]), 'shop', 'decideRequests')).toBe(true)
  })
  it('lets a viewer read service logs, and only deployers run test cases or open a terminal', () => {
    const viewer = me([['shop', 'viewer']])
    const deployer = me([['shop', 'deployer']])
    expect(can(viewer, 'shop', 'serviceLogs')).toBe(true)
    expect(can(viewer, 'shop', 'terminal')).toBe(false)
    expect(can(viewer, 'shop', 'runTestCases')).toBe(false)
    expect(can(deployer, 'shop', 'terminal')).toBe(true)
    expect(can(deployer, 'shop', 'runTestCases')).toBe(true)
  })
  it('lets admins do everything and nobody signed out anything', () => {
    const admin = me([], true)
    expect(can(admin, 'any', 'editTemplate')).toBe(true)
    expect(roleOn(admin, 'any')).toBe('admin')
    expect(roleOn(me([['shop', 'owner']], true), 'shop')).toBe('owner')
    expect(can(null, 'shop', 'cancel')).toBe(false)
  })
})
