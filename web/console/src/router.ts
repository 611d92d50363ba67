// Routes, who may open them, and the guard that sends the signed-out (or expired) to the login
// page and back. Pages load on demand: the login page does not carry the dashboard's charts.
import { watch } from 'vue'
import { createRouter, createWebHistory, type RouteLocationRaw, type Router } from 'vue-router'
import { useAuthStore, type Role } from '@shared/auth/store'
import ConsoleLayout from './layouts/ConsoleLayout.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page title (breadcrumb, document title, menu). */
    title?: string
    /** Open to signed-out visitors. */
    public?: boolean
    /** Who may open it; any console account when absent. */
    roles?: Role[]
  }
}

/** Where each kind of console user starts. */
export function homeFor(roles: readonly Role[]): RouteLocationRaw {
  return roles.includes('operator') ? { name: 'operator-home' } : { name: 'dashboard' }
}

export function createConsoleRouter(): Router {
  const router = createRouter({
    history: createWebHistory('/console/'),
    routes: [
      {
        path: '/login',
        name: 'login',
        component: () => import('./pages/LoginPage.vue'),
        meta: { public: true, title: 'login.title' },
      },
      {
        path: '/',
        component: ConsoleLayout,
        children: [
          {
            path: '',
            name: 'home',
            redirect: () => homeFor(useAuthStore().roles),
          },
          {
            path: 'dashboard',
            name: 'dashboard',
            component: () => import('./pages/DashboardPage.vue'),
            meta: { title: 'menu.dashboard', roles: ['enterprise_admin'] },
          },
          {
            path: 'operator',
            name: 'operator-home',
            component: () => import('./pages/OperatorHomePage.vue'),
            meta: { title: 'menu.operatorHome', roles: ['operator'] },
          },
          {
            path: 'password',
            name: 'password',
            component: () => import('./pages/PasswordPage.vue'),
            meta: { title: 'menu.password' },
          },
          {
            path: ':pathMatch(.*)*',
            name: 'not-found',
            component: () => import('./pages/NotFoundPage.vue'),
            meta: { title: 'notFound.title' },
          },
        ],
      },
    ],
  })

  router.beforeEach((to) => {
    const auth = useAuthStore()
    if (to.meta.public) {
      return to.name === 'login' && auth.canUseConsole ? homeFor(auth.roles) : true
    }
    if (!auth.session) {
      return { name: 'login', query: { redirect: to.fullPath } }
    }
    if (!auth.canUseConsole) {
      // An employee's token (from the client app) opens nothing here.
      void auth.logout()
      return { name: 'login', query: { reason: 'not_console' } }
    }
    const allowed = to.meta.roles
    if (allowed && !allowed.some((r) => auth.roles.includes(r))) return homeFor(auth.roles)
    return true
  })

  // A session that ends under an open page: to the login page, then back to this page.
  router.isReady().then(() => {
    const auth = useAuthStore()
    watch(
      () => auth.expired,
      (expired) => {
        const current = router.currentRoute.value
        if (expired && !current.meta.public) {
          void router.push({ name: 'login', query: { redirect: current.fullPath, reason: 'expired' } })
        }
      },
    )
  }, () => undefined)

  return router
}
