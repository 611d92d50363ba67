// Server state of the console's pages, through TanStack Query: components render, these fetch.
import { useQuery } from '@tanstack/vue-query'
import { unwrap } from '@shared/api/client'
import { useApi } from './context'

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

/** The dashboard's live figures. DASH: the i13/dash branch adds the endpoints (registered
 * devices, calls in progress, calls by hour today, minutes this month); until it lands these
 * answer `null` and the cards say the figure is coming. Replace the body of each queryFn with
 * `unwrap(api.GET('/api/v1/…'))` when merging. */
export interface DashboardFigures {
  registeredDevices: number | null
  callsInProgress: number | null
  callsToday: number | null
  minutesThisMonth: number | null
  /** 24 counts, hour 0 to 23 of today in the enterprise's time zone. */
  callsByHour: number[] | null
}

export function useDashboardFigures() {
  return useQuery({
    queryKey: ['dashboard', 'figures'],
    queryFn: (): Promise<DashboardFigures> =>
      Promise.resolve({
        registeredDevices: null, // DASH
        callsInProgress: null, // DASH
        callsToday: null, // DASH
        minutesThisMonth: null, // DASH
        callsByHour: null, // DASH
      }),
  })
}
