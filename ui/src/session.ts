// Who is signed in: the token (sessionStorage, so it dies with the tab), the
// API's answer to GET /api/v1/me, and a live stream that re-reads /me when a
// permission changes, so a granted role shows its buttons without a reload.
import { defineStore } from 'pinia'
import { get, setToken, errorMessage } from './api'
import { openStream } from './live'
import { can, hasRole, roleOn, type Me, type Role, actionRole } from './roles'

const KEY = 'wharf.token'

export const useSession = defineStore('session', {
  state: () => ({
    token: '' as string,
    me: null as Me | null,
    error: '' as string,
    live: '' as string, // connecting | live | retrying
    closeStream: null as null | (() => void),
  }),
  getters: {
    signedIn: (s) => s.me !== null,
  },
  actions: {
    async restore() {
      const saved = sessionStorage.getItem(KEY) ?? ''
      if (saved && !this.me) await this.signIn(saved).catch(() => this.signOut())
    },
    async signIn(token: string) {
      this.error = ''
      setToken(token.trim())
      try {
        this.me = await get<Me>('/me')
      } catch (e) {
        setToken('')
        this.error = errorMessage(e)
        throw e
      }
      this.token = token.trim()
      sessionStorage.setItem(KEY, this.token)
      this.closeStream?.()
      this.closeStream = openStream({
        onEvent: (event) => {
          if (event.type.startsWith('Permission') || event.type === 'ProjectCreated') void this.refresh()
        },
        onState: (state) => (this.live = state),
      })
    },
    async refresh() {
      try {
        this.me = await get<Me>('/me')
      } catch (e) {
        this.error = errorMessage(e)
      }
    },
    signOut() {
      this.closeStream?.()
      this.closeStream = null
      sessionStorage.removeItem(KEY)
      setToken('')
      this.token = ''
      this.me = null
    },
    role(project: string) {
      return roleOn(this.me, project)
    },
    has(project: string, role: Role) {
      return hasRole(this.me, project, role)
    },
    can(project: string, action: keyof typeof actionRole) {
      return can(this.me, project, action)
    },
  },
})
