// Who may press which button: the same ladder the API enforces
// (viewer < deployer < owner; admins may do everything). The API stays the
// judge; this only hides what would be refused.
export type Role = 'viewer' | 'deployer' | 'owner'
export interface Me {
  user: string
  admin: boolean
  token_id: string
  roles: { project: string; role: string }[]
}

const rank: Record<string, number> = { viewer: 1, deployer: 2, owner: 3, admin: 4 }

export function roleOn(me: Me | null, project: string): string {
  if (!me) return ''
  const held = me.roles.find((r) => r.project === project)
  if (me.admin) return held && held.role !== 'admin' ? held.role : 'admin'
  return held ? held.role : ''
}

export function hasRole(me: Me | null, project: string, needed: Role): boolean {
  if (!me) return false
  if (me.admin) return true
  return (rank[roleOn(me, project)] ?? 0) >= rank[needed]
}

// The actions of the console and the role each needs (docs/api.md).
export const actionRole = {
  startRun: 'deployer',
  cancel: 'deployer',
  retry: 'deployer',
  approve: 'deployer',
  deploy: 'deployer',
  rollback: 'deployer',
  serviceLogs: 'viewer',
  runTestCases: 'deployer',
  terminal: 'deployer',
  editTemplate: 'owner',
  decideRequests: 'owner',
  audit: 'owner',
} as const satisfies Record<string, Role>

export function can(me: Me | null, project: string, action: keyof typeof actionRole): boolean {
  return hasRole(me, project, actionRole[action])
}
