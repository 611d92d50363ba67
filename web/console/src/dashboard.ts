// What the dashboard shows, taken from one GET /api/v1/dashboard answer: a pure function, so
// the cards and the chart are tested without a browser.
import type { components } from '@shared/api/schema'

export type DashboardAnswer = components['schemas']['Dashboard']

export interface DashboardFigures {
  devices: { registered: number; issued: number }
  callsInProgress: { calls: number; inbound: number; outbound: number; internal: number }
  today: { calls: number; answered: number; missed: number }
  month: { month: string; billedMinutes: number; billedCalls: number }
  /** Hour 0 to 23 of today in the enterprise's time zone, one series per outcome; the three
   * add up to the hour's calls (failed and still going are "other"). */
  byHour: { answered: number[]; missed: number[]; other: number[] }
}

export function dashboardFigures(d: DashboardAnswer): DashboardFigures {
  const answered: number[] = Array<number>(24).fill(0)
  const missed: number[] = Array<number>(24).fill(0)
  const other: number[] = Array<number>(24).fill(0)
  for (const h of d.today_by_hour) {
    if (h.hour < 0 || h.hour > 23) continue
    const a = h.answered ?? 0
    const m = h.missed ?? 0
    answered[h.hour] = a
    missed[h.hour] = m
    other[h.hour] = Math.max(0, (h.calls ?? 0) - a - m)
  }
  return {
    devices: { registered: d.devices.registered, issued: d.devices.issued },
    callsInProgress: {
      calls: d.calls_in_progress.calls ?? 0,
      inbound: d.calls_in_progress.inbound ?? 0,
      outbound: d.calls_in_progress.outbound ?? 0,
      internal: d.calls_in_progress.internal ?? 0,
    },
    today: { calls: d.today_calls.calls ?? 0, answered: d.today_calls.answered ?? 0, missed: d.today_calls.missed ?? 0 },
    month: { month: d.month.month, billedMinutes: d.month.billed_minutes, billedCalls: d.month.billed_calls },
    byHour: { answered, missed, other },
  }
}
