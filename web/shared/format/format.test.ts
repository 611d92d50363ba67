import { describe, expect, it } from 'vitest'
import { formatDateTime, formatDuration, formatNumber, formatPhone, formatSince } from './index'

describe('formatters', () => {
  it('groups numbers per language and shows a dash for nothing', () => {
    expect(formatNumber(1234567, 'en')).toBe('1,234,567')
    expect(formatNumber(1234567, 'zh-CN')).toBe('1,234,567')
    expect(formatNumber(null, 'en')).toBe('—')
    expect(formatNumber(Number.NaN, 'zh-CN')).toBe('—')
  })

  it('writes a moment as year-month-day hour:minute in the given zone', () => {
    expect(formatDateTime('2026-12-07T14:49:00Z', 'Asia/Shanghai')).toBe('2026-12-07 22:49')
    expect(formatDateTime('2026-12-31T16:30:00Z', 'Asia/Shanghai')).toBe('2027-01-01 00:30')
    expect(formatDateTime('not a date')).toBe('—')
    expect(formatDateTime(null)).toBe('—')
  })

  it('reads durations like a phone does', () => {
    expect(formatDuration(9)).toBe('0:09')
    expect(formatDuration(309)).toBe('5:09')
    expect(formatDuration(3909)).toBe('1:05:09')
    expect(formatDuration(-1)).toBe('—')
  })

  it('says how long ago in the user language', () => {
    const now = new Date('2026-12-07T12:00:00Z')
    expect(formatSince('2026-12-07T09:00:00Z', now, 'en')).toBe('3 hours ago')
    expect(formatSince('2026-12-07T09:00:00Z', now, 'zh-CN')).toBe('3小时前')
  })

  it('writes Chinese numbers the way people read them', () => {
    expect(formatPhone('+8613800000001')).toBe('138 0000 0001')
    expect(formatPhone('+862584000000')).toBe('025 84000000')
    expect(formatPhone('+861088886666')).toBe('010 88886666')
    expect(formatPhone('+14155550100')).toBe('+14155550100')
    expect(formatPhone('')).toBe('—')
  })
})
