// vue-i18n in composition mode: zh-CN by default, en on request; the choice is remembered in the
// browser and sent to the node as Accept-Language so its own messages match.
import { computed, type WritableComputedRef } from 'vue'
import { createI18n, type I18n } from 'vue-i18n'
import type { Locale } from '../format'
import { sharedEn, sharedZh, type SharedMessages } from './messages'

export const LOCALES: readonly Locale[] = ['zh-CN', 'en']
export const DEFAULT_LOCALE: Locale = 'zh-CN'
const STORAGE_KEY = 'zongji.locale'

type AppMessages = Record<string, unknown>
export type Messages = SharedMessages & AppMessages

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

/** The language to start in: the one chosen before, else zh-CN (the product's first market;
 * the browser's language is not consulted, so a shared office PC doesn't flip languages). */
export function initialLocale(storage: Pick<Storage, 'getItem'> | undefined): Locale {
  const saved = storage?.getItem(STORAGE_KEY)
  return isLocale(saved) ? saved : DEFAULT_LOCALE
}

export type AppI18n = I18n<
  Record<Locale, Messages>,
  Record<string, never>,
  Record<string, never>,
  Locale,
  false
>

export function createSharedI18n(app: Record<Locale, AppMessages>, locale: Locale): AppI18n {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    missingWarn: false,
    fallbackWarn: false,
    messages: {
      'zh-CN': { ...sharedZh, ...app['zh-CN'] },
      en: { ...sharedEn, ...app.en },
    },
  }) as AppI18n
}

/** The language the instance speaks now. */
export function currentLocale(i18n: AppI18n): Locale {
  const value: unknown = i18n.global.locale.value
  return isLocale(value) ? value : DEFAULT_LOCALE
}

/** The current language as a ref that also remembers the choice and sets `<html lang>`. */
export function localeRef(i18n: AppI18n, storage?: Pick<Storage, 'setItem'>): WritableComputedRef<Locale> {
  return computed<Locale>({
    get: () => currentLocale(i18n),
    set: (value: Locale) => {
      i18n.global.locale.value = value
      storage?.setItem(STORAGE_KEY, value)
      if (typeof document !== 'undefined') document.documentElement.lang = value
    },
  })
}

/** A `Translate` over the i18n instance: the message when the key exists, else undefined. */
export function translator(i18n: AppI18n): (key: string) => string | undefined {
  return (key) => (i18n.global.te(key) ? i18n.global.t(key) : undefined)
}
