// A form's unsent content survives a session that expires under it: the form writes itself to
// sessionStorage as the user types, and the same form restores it when it comes back (after the
// trip through the login page). Fields named in `omit` (passwords) are never written.
import { watch, type WatchStopHandle } from 'vue'

const PREFIX = 'zongji.draft.'

export interface DraftOptions<T> {
  omit?: readonly (keyof T)[]
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
}

export interface Draft {
  /** Forget the draft: the form was sent, or the user threw it away. */
  clear(): void
  stop: WatchStopHandle
}

export function useDraft<T extends Record<string, unknown>>(
  key: string,
  form: T,
  options: DraftOptions<T> = {},
): Draft {
  const storage = options.storage ?? (typeof sessionStorage === 'undefined' ? undefined : sessionStorage)
  const omit = new Set<keyof T>(options.omit ?? [])
  const name = PREFIX + key

  const saved = storage?.getItem(name)
  if (saved) {
    try {
      const values = JSON.parse(saved) as Partial<T>
      for (const field of Object.keys(values) as (keyof T)[]) {
        if (field in form && !omit.has(field)) form[field] = values[field] as T[keyof T]
      }
    } catch {
      storage?.removeItem(name)
    }
  }

  const stop = watch(
    () => ({ ...form }),
    (values) => {
      const kept: Partial<T> = {}
      for (const field of Object.keys(values) as (keyof T)[]) {
        if (!omit.has(field)) kept[field] = values[field]
      }
      storage?.setItem(name, JSON.stringify(kept))
    },
    { deep: true, flush: 'sync' },
  )

  return {
    clear() {
      stop()
      storage?.removeItem(name)
    },
    stop,
  }
}
