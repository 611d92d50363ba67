import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClient, unwrap } from '../api/client'
import { ApiError } from '../api/problem'
import { configureAuth, REFRESH_MARGIN_MS, SESSION_KEY, useAuthStore } from './store'

/** A stand-in for the node's auth routes at the network boundary: rotating refresh tokens,
 * a clock the test moves, and a protected route that accepts only the newest access token. */
class FakeNode {
  now = 1_000_000
  issued = 0
  refreshes = 0
  logouts = 0
  refreshAccepted = true
  validAccess = ''
  validRefresh = ''
  seen: string[] = []

  pair(): Record<string, unknown> {
    this.issued += 1
    this.validAccess = `access-${this.issued}`
    this.validRefresh = `zrt_${this.issued}`
    return {
      access_token: this.validAccess,
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: this.validRefresh,
      refresh_expires_in: 3600,
      device_id: '0190a0a0-0000-7000-8000-000000000001',
      subject_kind: 'console',
      subject_id: '0190a0a0-0000-7000-8000-000000000002',
      tenant_id: '0190a0a0-0000-7000-8000-000000000003',
      name: 'Admin',
      roles: ['enterprise_admin'],
    }
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    const path = new URL(request.url, 'http://node').pathname
    this.seen.push(`${request.method} ${path} ${request.headers.get('authorization') ?? ''}`)
    const json = (status: number, body: unknown): Response =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
    if (path === '/api/v1/auth/login') {
      const body = (await request.json()) as { password: string }
      if (body.password !== 'right-1') return json(401, { status: 401, code: 'invalid_credentials' })
      return json(200, this.pair())
    }
    if (path === '/api/v1/auth/refresh') {
      this.refreshes += 1
      const body = (await request.json()) as { refresh_token: string }
      if (!this.refreshAccepted || body.refresh_token !== this.validRefresh) {
        return json(401, { status: 401, code: 'invalid_refresh_token' })
      }
      return json(200, this.pair())
    }
    if (path === '/api/v1/auth/logout') {
      this.logouts += 1
      return new Response(null, { status: 204 })
    }
    if (request.headers.get('authorization') !== `Bearer ${this.validAccess}`) {
      return json(401, { status: 401, code: 'unauthenticated' })
    }
    return json(200, { version: '1.2.3', api_version: 'v1' })
  }
}

class MemoryStorage {
  items = new Map<string, string>()
  getItem = (k: string): string | null => this.items.get(k) ?? null
  setItem = (k: string, v: string): void => void this.items.set(k, v)
  removeItem = (k: string): void => void this.items.delete(k)
}

let node: FakeNode
let storage: MemoryStorage

beforeEach(() => {
  node = new FakeNode()
  storage = new MemoryStorage()
  configureAuth({ fetch: node.fetch, now: () => node.now, storage, baseUrl: 'http://node' })
  setActivePinia(createPinia())
})

function client(store: ReturnType<typeof useAuthStore>) {
  return createApiClient({ auth: store, locale: () => 'en', baseUrl: 'http://node', fetch: node.fetch })
}

describe('auth store', () => {
  it('keeps the session across a reload and tells the roles', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    expect(store.canUseConsole).toBe(true)
    expect(store.isEnterpriseAdmin).toBe(true)
    expect(JSON.parse(storage.getItem(SESSION_KEY) ?? '{}').accessToken).toBe('access-1')

    setActivePinia(createPinia()) // a reload: a new store reads the storage
    const reloaded = useAuthStore()
    expect(reloaded.session?.name).toBe('Admin')
    expect(await reloaded.accessToken()).toBe('access-1')
  })

  it('refuses a wrong password with the problem code and stores nothing', async () => {
    const store = useAuthStore()
    const error = await store.login('admin', 'wrong').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).code).toBe('invalid_credentials')
    expect(store.session).toBeNull()
    expect(storage.getItem(SESSION_KEY)).toBeNull()
  })

  it('refreshes once, shortly before expiry, however many requests ask at the same time', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    node.now += 900_000 - REFRESH_MARGIN_MS + 1
    const tokens = await Promise.all([store.accessToken(), store.accessToken(), store.accessToken()])
    expect(tokens).toEqual(['access-2', 'access-2', 'access-2'])
    expect(node.refreshes).toBe(1)
    expect(store.session?.refreshToken).toBe('zrt_2')
  })

  it('ends the session when the refresh is refused, and says it expired', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    node.now += 900_000
    node.refreshAccepted = false
    expect(await store.accessToken()).toBeNull()
    expect(store.session).toBeNull()
    expect(store.expired).toBe(true)
    expect(storage.getItem(SESSION_KEY)).toBeNull()
  })

  it('does not ask the node when the refresh token itself has run out', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    node.now += 3_600_000
    expect(await store.refresh()).toBeNull()
    expect(node.refreshes).toBe(0)
    expect(store.expired).toBe(true)
  })

  it('logs out on the node and forgets the session, without calling it expired', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    await store.logout()
    expect(node.logouts).toBe(1)
    expect(store.session).toBeNull()
    expect(store.expired).toBe(false)
  })
})

describe('API client', () => {
  it('sends the token and retries once with a refreshed one after a 401', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    node.validAccess = 'revoked-by-node' // e.g. the node restarted its signing key
    node.validRefresh = 'zrt_1'
    node.issued = 1
    const api = client(store)
    const data = await unwrap(api.GET('/api/v1/system/version'))
    expect(data.version).toBe('1.2.3')
    expect(node.refreshes).toBe(1)
    expect(node.seen.filter((s) => s.startsWith('GET'))).toEqual([
      'GET /api/v1/system/version Bearer access-1',
      'GET /api/v1/system/version Bearer access-2',
    ])
  })

  it('ends the session when the refresh fails after a 401, and throws the problem', async () => {
    const store = useAuthStore()
    await store.login('admin', 'right-1')
    node.validAccess = 'revoked'
    node.refreshAccepted = false
    const error = await unwrap(client(store).GET('/api/v1/system/version')).catch((e: unknown) => e)
    expect((error as ApiError).status).toBe(401)
    expect(store.session).toBeNull()
    expect(store.expired).toBe(true)
  })

  it('turns a network failure into a network_error problem', async () => {
    const store = useAuthStore()
    const api = createApiClient({
      auth: store,
      locale: () => 'zh-CN',
      baseUrl: 'http://node',
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
    })
    const error = await unwrap(api.GET('/api/v1/system/version')).catch((e: unknown) => e)
    expect((error as ApiError).code).toBe('network_error')
  })
})
