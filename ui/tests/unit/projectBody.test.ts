import { describe, expect, it } from 'vitest'
import { emptyForm, parseConfig, projectBody, templateForm, templateBody } from '../../src/projectBody'

describe('project form -> API body', () => {
  it('sends a local git project with environments in order and their tests', () => {
    const f = emptyForm()
    f.project_id = ' shop '
    f.git_path = '/srv/git/shop'
    f.environments[0].tests.push({ name: 'smoke', command: 'curl -f $WHARF_TARGET_URL/', timeout_s: 30 })
    f.environments[0].tests.push({ name: '', command: '', timeout_s: 0 }) // left empty: not sent
    f.template.start_command = 'exec python3 server.py'
    f.template.config = 'GREETING=hello\n# comment\nMODE = fast'
    const body = projectBody(f)
    expect(body.project_id).toBe('shop')
    expect(body.repository).toEqual({ local_git: { path: '/srv/git/shop', branch: 'main' } })
    expect(body.environments.map((e) => e.name)).toEqual(['staging', 'prod'])
    expect(body.environments[0].post_deploy_tests).toEqual([{ name: 'smoke', command: 'curl -f $WHARF_TARGET_URL/', timeout_s: 30 }])
    expect(body.template.config).toEqual({ GREETING: 'hello', MODE: 'fast' })
    expect(body.template.build).toEqual({ command: 'sh build.sh', artifact_path: 'dist', timeout_s: 120 })
  })
  it('sends a Gerrit binding with its branches', () => {
    const f = emptyForm()
    f.project_id = 'shop'
    f.repo_kind = 'gerrit'
    f.gerrit_host = 'gerrit.example'
    f.gerrit_project = 'shop'
    f.gerrit_branches = 'main, release '
    expect(projectBody(f).repository).toEqual({ gerrit: { host: 'gerrit.example', project: 'shop', branches: ['main', 'release'] } })
  })
  it('rejects a config line that is not KEY=value', () => {
    expect(() => parseConfig('JUSTAKEY')).toThrow('config line "JUSTAKEY" is not KEY=value')
  })
  it('round-trips the template view', () => {
    const view = { build: { command: 'make', artifact_path: 'out', timeout_s: 9 }, start_command: 's', health_path: '/h', deploy_timeout_s: 5, config: { A: '1' } }
    expect(templateBody(templateForm(view))).toEqual(view)
  })
})
