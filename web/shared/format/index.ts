// Formatting of numbers, dates, durations and phone numbers, in the user's language. Pure
// functions over Intl, so pages and tests agree on what a user sees.
export type Locale = 'zh-CN' | 'en'

export function formatNumber(value: number | null | undefined, locale: Locale): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  return new Intl.NumberFormat(locale).format(value)
}

/** A moment in the user's time zone: `2026-12-07 22:49` in both languages (consoles in China
 * write dates that way, and an English reader understands it too). */
export function formatDateTime(value: string | Date | null | undefined, timeZone?: string): string {
  if (value === null || value === undefined || value === '') return '—'
  const date = typeof value === 'string' ? new Date(value) : value
  if (Number.isNaN(date.getTime())) return '—'
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date)
  const get = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`
}

/** A length of time: `1:05:09`, `5:09`, `0:09` (calls are read that way on phones). */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || seconds < 0 || Number.isNaN(seconds)) return '—'
  const total = Math.round(seconds)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  const ss = String(s).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/** How long ago, in whole units: for "started 3 hours ago". */
export function formatSince(value: string | Date, now: Date, locale: Locale): string {
  const date = typeof value === 'string' ? new Date(value) : value
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000)
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  const abs = Math.abs(seconds)
  if (abs < 60) return rtf.format(seconds, 'second')
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour')
  return rtf.format(Math.round(seconds / 86400), 'day')
}

/** An E.164 number as people in China write it: mobiles 3-4-4, landlines area code then number;
 * other countries keep the `+` and country code. Anything else is shown as given. */
export function formatPhone(e164: string | null | undefined): string {
  if (!e164) return '—'
  const digits = e164.replace(/[^\d+]/g, '')
  if (!digits.startsWith('+86')) return e164
  const national = digits.slice(3)
  if (/^1\d{10}$/.test(national)) {
    return `${national.slice(0, 3)} ${national.slice(3, 7)} ${national.slice(7)}`
  }
  // Landlines: two-digit area codes (10 Beijing, 2x big cities), else three digits.
  const area = /^(10|2\d)/.test(national) ? national.slice(0, 2) : national.slice(0, 3)
  if (national.length < 7) return `0${national}`
  return `0${area} ${national.slice(area.length)}`
}
