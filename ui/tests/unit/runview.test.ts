// RunView mounted for real (router, pinia) over a fake fetch: buttons follow
// the signed-in role, and an SSE event makes the view re-read the run at that
// position (no polling).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import RunView from '../../src/views/RunView.vue'
import { useSession } from '../../src/session'
import type { Me } from '../../src/roles'

const waiting = {
  run_id: 'r1', project_id: 'shop', commit_sha: 'abc123', branch: 'main', status: 'RUN_STATUS_WAITING_FOR_APPROVAL',
  reason: '', version: 'sha256:aa', waiting_for_approval: 'prod', started_at_us: '1000000', ended_at_us: '0',
  environments: ['staging', 'prod'], source: 'api',
  steps: [{ kind: 'STEP_KIND_BUILD', environment: '', attempt: 1, status: 'STEP_STATUS_SUCCEEDED' }],
}

// A fetch that answers GET run with `run()` and holds the SSE stream open,
// handing out a writer to push frames.
function fakeApi(run: () => object) {
  const calls: string[] = []
  let push: ((frame: string) => void) | null = null
  vi.stubGlobal('fetch', async (url: string) => {
    calls.push(url)
    if (url.startsWith('/api/v1/events/stream')) {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          push = (frame) => controller.enqueue(new TextEncoder().encode(frame))
        },
      })
      return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } })
    }
    return new Response(JSON.stringify(run()), { status: 200 })
  })
  return { calls, push: (frame: string) => push?.(frame) }
}

async function mountAs(me: Me) {
  setActivePinia(createPinia())
  const session = useSession()
  session.me = me
  const router = createRouter({ history: createMemoryHistory(), routes: [
    { path: '/projects/:project/runs/:run', component: RunView, props: true },
    { path: '/:other(.*)*', component: { render: () => null } },
  ] })
  await router.push('/projects/shop/runs/r1')
  const wrapper = mount(RunView, { props: { project: 'shop', run: 'r1' }, global: { plugins: [router] } })
  await flushPromises()
  return wrapper
}

afterEach(() => vi.unstubAllGlobals())

describe('RunView', () => {
  it('shows approve and cancel to a deployer', async () => {
    fakeApi(() => waiting)
    const w = await mountAs({ user: 'dan', admin: false, token_id: 't', roles: [{ project: 'shop', role: 'deployer' }] })
    expect(w.find('[data-test=approve]').text()).toContain('Approve deploy to prod')
    expect(w.find('[data-test=cancel]').exists()).toBe(true)
    w.unmount()
  })
  it('hides them from a viewer and says who may approve', async () => {
    fakeApi(() => waiting)
    const w = await mountAs({ user: 'vera', admin: false, token_id: 't', roles: [{ project: 'shop', role: 'viewer' }] })
    expect(w.find('[data-test=approve]').exists()).toBe(false)
    expect(w.find('[data-test=cancel]').exists()).toBe(false)
    expect(w.text()).toContain('Waiting for approval by a deployer.')
    w.unmount()
  })
  it('re-reads the run with min_position when an event arrives', async () => {
    let current: object = { ...waiting, status: 'RUN_STATUS_RUNNING', waiting_for_approval: '' }
    const api = fakeApi(() => current)
    const w = await mountAs({ user: 'dan', admin: false, token_id: 't', roles: [{ project: 'shop', role: 'deployer' }] })
    expect(w.find('[data-test=run-status]').text()).toBe('running')
    expect(api.calls.some((u) => u.startsWith('/api/v1/events/stream?project=shop&run=r1'))).toBe(true)
    current = { ...waiting, status: 'RUN_STATUS_SUCCEEDED', waiting_for_approval: '', ended_at_us: '3000000' }
    api.push('id: 42\nevent: RunSucceeded\ndata: {"position":42,"type":"RunSucceeded","stream":"run-r1","occurred_at_us":1,"data":{"run_id":"r1"}}\n\n')
    await vi.waitFor(() => expect(w.find('[data-test=run-status]').text()).toBe('succeeded'))
    expect(api.calls.some((u) => u === '/api/v1/projects/shop/runs/r1?min_position=42')).toBe(true)
    expect(w.find('[data-test=live-events]').text()).toContain('RunSucceeded')
    expect(w.find('[data-test=cancel]').exists()).toBe(false)
    w.unmount()
  })
})
