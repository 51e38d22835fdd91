// A real `wharf serve` for the browser tests: scratch data dir, a free
// port, the built UI (ui/dist), no Kafka relay (nothing here reads it).
import { expect, type Page } from '@playwright/test'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const wharfBin = process.env.WHARF_BIN ?? join(repoRoot, 'build/cli/wharf')
export const artifacts = process.env.WHARF_UI_ARTIFACTS ?? join(repoRoot, 'build/ui-artifacts')

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      const port = typeof address === 'object' && address ? address.port : 0
      s.close(() => ok(port))
    })
  })
}

export class Wharf {
  url = ''
  adminToken = ''
  dataDir = ''
  private child: ChildProcess | null = null
  private log: string[] = []

  // `extra`: more `wharf serve` flags (e.g. a short --health-interval).
  async start(extra: string[] = []) {
    if (!existsSync(wharfBin)) throw new Error(`no wharf binary at ${wharfBin} (build it, or set WHARF_BIN)`)
    this.dataDir = mkdtempSync(join(tmpdir(), 'wharf-ui-e2e-'))
    const port = await freePort()
    this.url = `http://127.0.0.1:${port}`
    const tokenFile = join(this.dataDir, 'admin-token')
    this.child = spawn(
      wharfBin,
      ['serve', '--data', join(this.dataDir, 'data'), '--port', String(port), '--ui-dir', join(repoRoot, 'ui/dist'),
        '--kafka-relay', 'false', '--fsync', 'false', '--first-token-file', tokenFile, ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const keep = (b: Buffer) => this.log.push(b.toString())
    this.child.stdout?.on('data', keep)
    this.child.stderr?.on('data', keep)
    for (let i = 0; i < 200; ++i) {
      if (this.child.exitCode !== null) throw new Error('wharf serve exited:\n' + this.log.join(''))
      try {
        const r = await fetch(this.url + '/healthz')
        if (r.ok && existsSync(tokenFile)) break
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    this.adminToken = readFileSync(tokenFile, 'utf8').trim()
    if (!this.adminToken) throw new Error('no admin token:\n' + this.log.join(''))
  }

  async api<T = unknown>(method: string, path: string, body?: unknown, token = this.adminToken): Promise<T> {
    const r = await fetch(this.url + '/api/v1' + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await r.text()
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`)
    return JSON.parse(text) as T
  }

  async tokenFor(user: string): Promise<string> {
    return (await this.api<{ token: string }>('POST', '/tokens', { user })).token
  }

  serverLog() {
    return this.log.join('')
  }

  // Starts a run of `sha` in `project` and waits for it to succeed (a failure
  // fails at once, with serve's log).
  async runToEnd(project: string, sha: string) {
    await this.api('POST', `/projects/${project}/runs`, { commit_sha: sha, branch: 'main' })
    await expect
      .poll(
        async () => {
          const { runs } = await this.api<{ runs: { commit_sha: string; status: string }[] }>(
            'GET',
            `/projects/${project}/runs`,
          )
          const status = runs.find((r) => r.commit_sha === sha)?.status ?? ''
          if (/FAILED|CANCELLED/.test(status)) throw new Error(`run of ${sha} ended ${status}\n${this.serverLog()}`)
          return status
        },
        { timeout: 150_000, intervals: [500] },
      )
      .toMatch(/SUCCEEDED$/)
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child?.once('exit', r))
      this.child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))])
      if (this.child.exitCode === null) this.child.kill('SIGKILL')
    }
    // The local deploy target's services outlive serve by design (a restarted
    // serve adopts them); the test's own ones go with its data dir.
    if (this.dataDir) {
      stopProcessesUnder(this.dataDir)
      rmSync(this.dataDir, { recursive: true, force: true })
    }
  }
}

// Kills every process whose working directory is inside `dir`.
function stopProcessesUnder(dir: string) {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let cwd = ''
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`)
    } catch {
      continue // gone, or not ours to read
    }
    if (cwd === dir || cwd.startsWith(dir + '/')) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // exited meanwhile
      }
    }
  }
}

// The demo's hello-service as a local git repository (examples/hello-service).
export function makeRepo(dir: string): string {
  execFileSync(join(repoRoot, 'examples/hello-service/demo-setup'), [dir], { stdio: 'ignore' })
  return execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD']).toString().trim()
}

export function commit(dir: string, file: string, text: string, message: string): string {
  execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', text, join(dir, file)])
  execFileSync('git', ['-C', dir, '-c', 'user.name=e2e', '-c', 'user.email=e2e@wharf.invalid', 'commit', '-qam', message])
  return execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD']).toString().trim()
}

export function ensureArtifacts() {
  mkdirSync(artifacts, { recursive: true })
  return artifacts
}

// A full-page screenshot, build/ui-artifacts/<name>.png.
export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(ensureArtifacts(), `${name}.png`), fullPage: true })
}
