// Things the console's pieces share: the i18n instance, the API client and the current language.
import { inject, type InjectionKey } from 'vue'
import type { ApiClient } from '@shared/api/client'
import { createApiClient } from '@shared/api/client'
import { problemMessage, fieldErrors, ApiError, networkProblem } from '@shared/api/problem'
import { useAuthStore } from '@shared/auth/store'
import type { Locale } from '@shared/format'
import { currentLocale, localeRef, translator, type AppI18n } from '@shared/i18n'

export const i18nKey: InjectionKey<AppI18n> = Symbol('i18n')

function useI18nInstance(): AppI18n {
  const i18n = inject(i18nKey)
  if (!i18n) throw new Error('the console i18n was not provided')
  return i18n
}

export function useLocale() {
  return localeRef(useI18nInstance(), localStorage)
}

let client: ApiClient | null = null

/** The one API client of the console, with the signed-in user's token and language. */
export function useApi(): ApiClient {
  if (client) return client
  const auth = useAuthStore()
  const i18n = useI18nInstance()
  client = createApiClient({ auth, locale: () => currentLocale(i18n) })
  return client
}

/** Problems as the user reads them, in the current language. */
export function useProblems() {
  const i18n = useI18nInstance()
  const t = translator(i18n)
  const locale = (): Locale => currentLocale(i18n)
  return {
    message(error: unknown): string {
      const problem = error instanceof ApiError ? error.problem : networkProblem()
      return problemMessage(problem, locale(), t)
    },
    fields(error: unknown): Record<string, string> {
      return error instanceof ApiError ? fieldErrors(error.problem, locale(), t) : {}
    },
  }
}
