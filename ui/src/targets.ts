// Targets (docs/targets.md) as the console shows and edits them: which
// secret fields a credential kind takes, and a target's health in words.
// Secrets typed into the forms go straight into one POST and are cleared;
// nothing the API answers ever holds one.

export interface TargetHealth {
  known: boolean
  reachable?: boolean
  server_version?: string
  error?: string
  changed_at_us?: string
}
export interface Target {
  name: string
  kind: string
  url: string
  ca_file: string
  insecure_skip_tls_verify: boolean
  namespace: string
  endpoint_id: string
  description: string
  credential: { kind: string; version: number }
  health: TargetHealth
  used_by: string[]
}

export const targetKinds = ['kubernetes', 'portainer', 'jenkins', 'zookeeper'] as const

// The credential kinds each target kind takes (the API refuses others).
export function credentialKinds(kind: string): string[] {
  switch (kind) {
    case 'kubernetes':
      return ['bearer_token', 'service_account', 'none']
    case 'portainer':
      return ['api_key', 'user_password']
    case 'jenkins':
      return ['user_token', 'none']
    case 'zookeeper': // digest auth username:password (a Dubbo config center)
      return ['user_password', 'none']
    default:
      return []
  }
}

// The fields a credential of `kind` needs, and whether each is secret
// (a password input, never shown back).
export function credentialFields(kind: string): { name: string; secret: boolean }[] {
  switch (kind) {
    case 'bearer_token':
      return [{ name: 'token', secret: true }]
    case 'api_key':
      return [{ name: 'api_key', secret: true }]
    case 'user_password':
      return [
        { name: 'username', secret: false },
        { name: 'password', secret: true },
      ]
    case 'user_token':
      return [
        { name: 'user', secret: false },
        { name: 'token', secret: true },
      ]
    default:
      return []
  }
}

// The credential body of a form: its kind and only the fields that kind takes.
export function credentialBody(kind: string, values: Record<string, string>): Record<string, string> {
  const body: Record<string, string> = { kind }
  for (const f of credentialFields(kind)) body[f.name] = values[f.name] ?? ''
  return body
}

export function healthWord(h: TargetHealth): 'reachable' | 'unreachable' | 'not probed' {
  if (!h.known) return 'not probed'
  return h.reachable ? 'reachable' : 'unreachable'
}
