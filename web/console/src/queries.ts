// Server state of the console's pages, through TanStack Query: components render, these fetch.
import { useQuery } from '@tanstack/vue-query'
import { unwrap } from '@shared/api/client'
import { useApi } from './context'
import { dashboardFigures } from './dashboard'

export function useSystemStatus() {
  const api = useApi()
  return useQuery({
    queryKey: ['system', 'status'],
    queryFn: () => unwrap(api.GET('/api/v1/system/status')),
    refetchInterval: 30_000,
  })
}

export function useLatestEnterprises() {
  const api = useApi()
  return useQuery({
    queryKey: ['platform', 'enterprises', 'latest'],
    queryFn: () => unwrap(api.GET('/api/v1/platform/enterprises', { params: { query: { limit: 10 } } })),
  })
}

/** Every figure of the admin's dashboard in one request (GET /api/v1/dashboard), refreshed
 * every 30 s like the server status. */
export function useDashboardFigures() {
  const api = useApi()
  return useQuery({
    queryKey: ['dashboard'],
    queryFn: async () => dashboardFigures(await unwrap(api.GET('/api/v1/dashboard'))),
    refetchInterval: 30_000,
  })
}
