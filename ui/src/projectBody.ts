// The project form's model <-> the API's project body (POST /api/v1/projects,
// PUT …/template). Kept pure so vitest checks what the form sends.
export interface TestSuiteForm {
  name: string
  command: string
  timeout_s: number
}
export interface EnvironmentForm {
  name: string
  target: 'local' | 'kubernetes' | 'swarm'
  auto_deploy: boolean
  requires_approval: boolean
  tests: TestSuiteForm[]
}
export interface TemplateForm {
  build_command: string
  artifact_path: string
  build_timeout_s: number
  start_command: string
  health_path: string
  deploy_timeout_s: number
  config: string // KEY=value lines
}
export interface ProjectForm {
  project_id: string
  repo_kind: 'local_git' | 'gerrit'
  git_path: string
  git_branch: string
  gerrit_host: string
  gerrit_project: string
  gerrit_branches: string
  webhook_secret: string
  environments: EnvironmentForm[]
  template: TemplateForm
}

export function emptyForm(): ProjectForm {
  return {
    project_id: '',
    repo_kind: 'local_git',
    git_path: '',
    git_branch: 'main',
    gerrit_host: '',
    gerrit_project: '',
    gerrit_branches: 'main',
    webhook_secret: '',
    environments: [
      { name: 'staging', target: 'local', auto_deploy: true, requires_approval: false, tests: [] },
      { name: 'prod', target: 'local', auto_deploy: true, requires_approval: false, tests: [] },
    ],
    template: {
      build_command: 'sh build.sh',
      artifact_path: 'dist',
      build_timeout_s: 120,
      start_command: '',
      health_path: '/healthz',
      deploy_timeout_s: 60,
      config: '',
    },
  }
}

export function parseConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const t = line.trim()
    if (!t || t.startsWith('#')) continue
    const eq = t.indexOf('=')
    if (eq <= 0) throw new Error(`config line "${t}" is not KEY=value`)
    out[t.slice(0, eq).trim()] = t.slice(eq + 1).trim()
  }
  return out
}

export function templateBody(t: TemplateForm) {
  return {
    build: { command: t.build_command, artifact_path: t.artifact_path, timeout_s: Number(t.build_timeout_s) || 0 },
    start_command: t.start_command,
    health_path: t.health_path,
    deploy_timeout_s: Number(t.deploy_timeout_s) || 0,
    config: parseConfig(t.config),
  }
}

export function projectBody(f: ProjectForm) {
  const repository =
    f.repo_kind === 'local_git'
      ? { local_git: { path: f.git_path.trim(), branch: f.git_branch.trim() || 'main' } }
      : {
          gerrit: {
            host: f.gerrit_host.trim(),
            project: f.gerrit_project.trim(),
            branches: f.gerrit_branches.split(',').map((b) => b.trim()).filter(Boolean),
            ...(f.webhook_secret ? { webhook_secret: f.webhook_secret } : {}),
          },
        }
  return {
    project_id: f.project_id.trim(),
    name: f.project_id.trim(),
    repository,
    environments: f.environments.map((e) => ({
      name: e.name.trim(),
      target: e.target,
      auto_deploy: e.auto_deploy,
      requires_approval: e.requires_approval,
      post_deploy_tests: e.tests
        .filter((t) => t.name.trim() && t.command.trim())
        .map((t) => ({ name: t.name.trim(), command: t.command, timeout_s: Number(t.timeout_s) || 0 })),
    })),
    template: templateBody(f.template),
  }
}

// The API's template view (GET /projects/{p}) -> the form.
export function templateForm(view: {
  build?: { command?: string; artifact_path?: string; timeout_s?: number }
  start_command?: string
  health_path?: string
  deploy_timeout_s?: number
  config?: Record<string, string>
}): TemplateForm {
  return {
    build_command: view.build?.command ?? '',
    artifact_path: view.build?.artifact_path ?? '',
    build_timeout_s: view.build?.timeout_s ?? 0,
    start_command: view.start_command ?? '',
    health_path: view.health_path ?? '',
    deploy_timeout_s: view.deploy_timeout_s ?? 0,
    config: Object.entries(view.config ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  }
}
