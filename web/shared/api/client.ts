// The typed API client: openapi-fetch over the paths generated from the node's OpenAPI document
// (schema.d.ts), with the bearer token, the user's language and one refresh after a 401.
// Composables call `unwrap(api.GET(...))`: data, or an ApiError carrying the problem.
import createClient, { type Client } from 'openapi-fetch'
import type { Locale } from '../format'
import { ApiError, networkProblem, toProblem } from './problem'
import type { paths } from './schema'

export interface TokenSource {
  accessToken(): Promise<string | null>
  /** The request sent with `used` got 401: a fresh token, or null when the session is over. */
  recover(used: string): Promise<string | null>
  expire(): void
}

export interface ClientOptions {
  auth: TokenSource
  locale: () => Locale
  baseUrl?: string
  fetch?: typeof globalThis.fetch
}

export type ApiClient = Client<paths>

export function createApiClient(options: ClientOptions): ApiClient {
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request))

  async function authorised(request: Request): Promise<Response> {
    const again = request.clone() // the body can be read once: keep a copy for the retry
    request.headers.set('Accept-Language', options.locale())
    const token = await options.auth.accessToken()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    const response = await send(request)
    if (response.status !== 401 || !token) return response
    const fresh = await options.auth.recover(token)
    if (!fresh) return response
    again.headers.set('Accept-Language', options.locale())
    again.headers.set('Authorization', `Bearer ${fresh}`)
    const retried = await send(again)
    if (retried.status === 401) options.auth.expire()
    return retried
  }

  return createClient<paths>({ baseUrl: options.baseUrl ?? '', fetch: authorised })
}

interface FetchResult<T> {
  data?: T
  error?: unknown
  response: Response
}

/** The answer's data, or an ApiError with the problem it carried (or a network problem). */
export async function unwrap<T>(pending: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>
  try {
    result = await pending
  } catch (err) {
    if (err instanceof ApiError) throw err
    throw new ApiError(networkProblem())
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(toProblem(result.response.status, result.error))
  }
  return result.data as T
}
