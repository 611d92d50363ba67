import { describe, expect, it } from 'vitest'
import { dashboardFigures, type DashboardAnswer } from './dashboard'

const counts = { calls: 0, answered: 0, missed: 0, failed: 0, live: 0, inbound: 0, outbound: 0, internal: 0, talk_seconds: 0, billed_minutes: 0 }

function answer(): DashboardAnswer {
  return {
    as_of: '2026-01-05T04:00:00Z',
    timezone: 'Asia/Shanghai',
    today: '2026-01-05',
    devices: { issued: 12, registered: 9, users_registered: 7 },
    calls_in_progress: { calls: 2, inbound: 1, outbound: 1, internal: 0 },
    today_calls: { ...counts, calls: 31, answered: 22, missed: 6, failed: 1, live: 2, billed_minutes: 48 },
    today_by_hour: Array.from({ length: 24 }, (_, hour) =>
      hour === 9
        ? { ...counts, hour, calls: 10, answered: 6, missed: 3, failed: 1 }
        : hour === 11
          ? { ...counts, hour, calls: 2, answered: 0, missed: 0, live: 2 }
          : { ...counts, hour },
    ),
    month: { month: '2026-01', billed_minutes: 640, billed_calls: 95 },
  }
}

describe('the dashboard figures', () => {
  it('are the answer’s cards: registered of issued, live calls, today, the month billed', () => {
    const f = dashboardFigures(answer())
    expect(f.devices).toEqual({ registered: 9, issued: 12 })
    expect(f.callsInProgress).toEqual({ calls: 2, inbound: 1, outbound: 1, internal: 0 })
    expect(f.today).toEqual({ calls: 31, answered: 22, missed: 6 })
    expect(f.month).toEqual({ month: '2026-01', billedMinutes: 640, billedCalls: 95 })
  })

  it('split each hour into answered, missed and the rest, adding up to its calls', () => {
    const { byHour } = dashboardFigures(answer())
    for (const series of [byHour.answered, byHour.missed, byHour.other]) expect(series).toHaveLength(24)
    expect([byHour.answered[9], byHour.missed[9], byHour.other[9]]).toEqual([6, 3, 1])
    expect([byHour.answered[11], byHour.missed[11], byHour.other[11]]).toEqual([0, 0, 2])
    expect(byHour.answered[0]).toBe(0)
  })

  it('keep 24 hours when the node sends fewer', () => {
    const a = answer()
    a.today_by_hour = [{ ...counts, hour: 23, calls: 1, answered: 1 }]
    const { byHour } = dashboardFigures(a)
    expect(byHour.answered).toHaveLength(24)
    expect(byHour.answered[23]).toBe(1)
  })
})
