// The signed-in session: the token pair and who it belongs to, kept in Pinia and in the browser's
// storage (a reload stays signed in). Access tokens live 15 minutes; the store refreshes one
// shortly before it expires and once after a 401, with one refresh in flight at a time (the
// node rotates refresh tokens: two refreshes with the same one would end the session). When the
// refresh fails the session is over: `expired` is set and the app sends the user to log in.
import createClient from 'openapi-fetch'
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { components, paths } from '../api/schema'
import { ApiError, networkProblem, toProblem } from '../api/problem'

export type Role = components['schemas']['Role']
type TokenPair = components['schemas']['TokenPair']

export interface Session {
  accessToken: string
  refreshToken: string
  /** Epoch milliseconds, by the browser's clock when the pair arrived. */
  accessExpiresAt: number
  refreshExpiresAt: number
  deviceId: string
  subjectKind: TokenPair['subject_kind']
  subjectId: string
  tenantId: string
  name: string
  roles: Role[]
}

/** What the store needs from its surroundings; tests give their own clock and storage. */
export interface AuthEnvironment {
  fetch: typeof globalThis.fetch
  now: () => number
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined
  baseUrl: string
}

export const SESSION_KEY = 'zongji.session'
const DEVICE_KEY = 'zongji.device'
/** Refresh this long before the access token runs out, so a request never carries a dead one. */
export const REFRESH_MARGIN_MS = 30_000

const environment: AuthEnvironment = {
  fetch: (...args) => globalThis.fetch(...args),
  now: () => Date.now(),
  storage: typeof localStorage === 'undefined' ? undefined : localStorage,
  baseUrl: '',
}

export function configureAuth(overrides: Partial<AuthEnvironment>): void {
  Object.assign(environment, overrides)
}

function fromPair(pair: TokenPair, now: number): Session {
  return {
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    accessExpiresAt: now + pair.expires_in * 1000,
    refreshExpiresAt: now + pair.refresh_expires_in * 1000,
    deviceId: pair.device_id,
    subjectKind: pair.subject_kind,
    subjectId: pair.subject_id,
    tenantId: pair.tenant_id,
    name: pair.name,
    roles: pair.roles,
  }
}

function load(): Session | null {
  const raw = environment.storage?.getItem(SESSION_KEY)
  if (!raw) return null
  try {
    const s = JSON.parse(raw) as Session
    return typeof s.accessToken === 'string' && typeof s.refreshToken === 'string' ? s : null
  } catch {
    return null
  }
}

export const useAuthStore = defineStore('auth', () => {
  const session = ref<Session | null>(load())
  /** Set when a session ended by itself (not by logging out): the login page says so. */
  const expired = ref(false)
  const refreshing = shallowRef<Promise<string | null> | null>(null)

  // The auth routes themselves go without the bearer-token wrapper (no refresh loops).
  const plain = createClient<paths>({
    baseUrl: environment.baseUrl,
    fetch: (request: Request) => environment.fetch(request),
  })

  const roles = computed<Role[]>(() => session.value?.roles ?? [])
  const isOperator = computed(() => roles.value.includes('operator'))
  const isEnterpriseAdmin = computed(() => roles.value.includes('enterprise_admin'))
  /** Only console accounts (operators, enterprise admins) may use the console. */
  const canUseConsole = computed(
    () => session.value?.subjectKind === 'console' && (isOperator.value || isEnterpriseAdmin.value),
  )

  function save(next: Session | null): void {
    session.value = next
    if (next) {
      environment.storage?.setItem(SESSION_KEY, JSON.stringify(next))
      environment.storage?.setItem(DEVICE_KEY, next.deviceId)
    } else {
      environment.storage?.removeItem(SESSION_KEY)
    }
  }

  async function login(account: string, password: string): Promise<Session> {
    const deviceId = environment.storage?.getItem(DEVICE_KEY) ?? null
    let result
    try {
      result = await plain.POST('/api/v1/auth/login', {
        body: {
          account,
          password,
          device: { device_id: deviceId, name: 'Web console', platform: 'web' },
        },
      })
    } catch {
      throw new ApiError(networkProblem())
    }
    if (!result.data) throw new ApiError(toProblem(result.response.status, result.error))
    const next = fromPair(result.data, environment.now())
    save(next)
    expired.value = false
    return next
  }

  /** The session is over (refresh refused, or the node no longer knows it). */
  function expire(): void {
    if (!session.value) return
    save(null)
    expired.value = true
  }

  async function doRefresh(current: Session): Promise<string | null> {
    if (current.refreshExpiresAt <= environment.now()) {
      expire()
      return null
    }
    let result
    try {
      result = await plain.POST('/api/v1/auth/refresh', {
        body: { refresh_token: current.refreshToken, device_id: current.deviceId },
      })
    } catch {
      throw new ApiError(networkProblem()) // offline: the session may well still stand
    }
    if (!result.data) {
      if (result.response.status === 400 || result.response.status === 401) {
        expire()
        return null
      }
      throw new ApiError(toProblem(result.response.status, result.error))
    }
    const next = fromPair(result.data, environment.now())
    save(next)
    return next.accessToken
  }

  /** A fresh access token, refreshing the pair first when the current one is about to run out.
   * One refresh at a time: callers arriving during one wait for its result. */
  function refresh(): Promise<string | null> {
    const current = session.value
    if (!current) return Promise.resolve(null)
    if (!refreshing.value) {
      refreshing.value = doRefresh(current).finally(() => {
        refreshing.value = null
      })
    }
    return refreshing.value
  }

  /** The token to send now, or null when signed out. */
  async function accessToken(): Promise<string | null> {
    const current = session.value
    if (!current) return null
    if (refreshing.value) return refreshing.value
    if (current.accessExpiresAt - REFRESH_MARGIN_MS > environment.now()) return current.accessToken
    return refresh()
  }

  /** A request with `used` came back 401: refresh once, unless another request already did. */
  async function recover(used: string): Promise<string | null> {
    const current = session.value
    if (!current) return null
    if (refreshing.value) return refreshing.value
    if (current.accessToken !== used) return current.accessToken
    return refresh()
  }

  async function logout(): Promise<void> {
    const current = session.value
    save(null)
    expired.value = false
    if (!current) return
    try {
      await plain.POST('/api/v1/auth/logout', {
        headers: { Authorization: `Bearer ${current.accessToken}` },
      })
    } catch {
      // Signed out here regardless; the node's session runs out by itself.
    }
  }

  return {
    session,
    expired,
    roles,
    isOperator,
    isEnterpriseAdmin,
    canUseConsole,
    login,
    logout,
    expire,
    refresh,
    accessToken,
    recover,
  }
})

export type AuthStore = ReturnType<typeof useAuthStore>
