import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useSession } from './session'

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/projects' },
  { path: '/signin', name: 'signin', component: () => import('./views/SignIn.vue'), meta: { public: true } },
  { path: '/projects', name: 'projects', component: () => import('./views/Projects.vue') },
  { path: '/projects/new', name: 'project-new', component: () => import('./views/ProjectForm.vue') },
  { path: '/me', name: 'me', component: () => import('./views/MeView.vue') },
  { path: '/permissions', name: 'permissions', component: () => import('./views/Permissions.vue') },
  { path: '/audit', name: 'audit', component: () => import('./views/Audit.vue') },
  { path: '/landscape', name: 'landscape', component: () => import('./views/Landscape.vue') },
  { path: '/insights', name: 'insights', component: () => import('./views/Insights.vue') },
  { path: '/targets', name: 'targets', component: () => import('./views/Targets.vue') },
  {
    path: '/projects/:project',
    component: () => import('./views/ProjectLayout.vue'),
    props: true,
    children: [
      { path: '', name: 'project', component: () => import('./views/ProjectOverview.vue'), props: true },
      { path: 'runs', name: 'runs', component: () => import('./views/Runs.vue'), props: true },
      { path: 'runs/:run', name: 'run', component: () => import('./views/RunView.vue'), props: true },
      { path: 'runs/:run/logs/:step', name: 'step-log', component: () => import('./views/LogView.vue'), props: true },
      { path: 'deploys/:deploy/log', name: 'deploy-log', component: () => import('./views/LogView.vue'), props: true },
      { path: 'versions', name: 'versions', component: () => import('./views/Versions.vue'), props: true },
      { path: 'environments', name: 'environments', component: () => import('./views/Environments.vue'), props: true },
      { path: 'template', name: 'template', component: () => import('./views/ProjectForm.vue'), props: true },
      { path: 'permissions', name: 'project-permissions', component: () => import('./views/Permissions.vue'), props: true },
      { path: 'audit', name: 'project-audit', component: () => import('./views/Audit.vue'), props: true },
    ],
  },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFound.vue'), meta: { public: true } },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const session = useSession()
  await session.restore()
  if (!to.meta.public && !session.signedIn) return { name: 'signin', query: { next: to.fullPath } }
  return true
})
